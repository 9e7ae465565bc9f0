/// The version every binary reports (AMQP app-id, logs, `--version`).
public enum JippnasVersion {
    public static let current = "0.3.0"
}
