import Hummingbird
import ServiceLifecycle
import Logging
import Metrics
import Prometheus

/// The optional HTTP listener of both daemons: `/metrics` in the Prometheus text format and `/healthz`
/// (200, or 503 with the reason), for monitoring that cannot run `jippnas status`; plus the routes a
/// daemon adds (the aggregator's catalogue).
public enum HealthServer {
    /// Makes swift-metrics record into a Prometheus registry. Call before any metric is created.
    public static func bootstrapMetrics() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }

    /// Why `listen` is not `host:port`.
    public struct AddressError: Error, CustomStringConvertible {
        public var description: String
    }

    /// The HTTP application, to run as a service next to the daemon's work loop.
    ///
    /// - Parameters:
    ///   - routes: adds what else this listener serves (the aggregator's catalogue API and web pages).
    ///   - problem: nil when healthy, else the reason `/healthz` answers 503 with.
    public static func application(listen: String, registry: PrometheusCollectorRegistry, logger: Logger,
                                   routes: (Router<BasicRequestContext>) throws -> Void = { _ in },
                                   problem: @escaping @Sendable () -> String?) throws -> some Service
    {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
              (0...65535).contains(port) else {
            throw AddressError(description: "http.listen '\(listen)' is not host:port, for example 127.0.0.1:9464")
        }
        let host = String(listen[..<colon]).trimmingCharacters(in: ["[", "]"])
        let router = Router()
        router.get("metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("healthz") { _, _ -> Response in
            if let reason = problem() {
                return Response(status: .serviceUnavailable, headers: [.contentType: "text/plain; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(string: "unhealthy: \(reason)\n")))
            }
            return Response(status: .ok, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "ok\n")))
        }
        try routes(router)
        return Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "jippnas"),
                           logger: logger)
    }
}
