# `scripts/demo --levels`: every level of government and back again, on this machine. Sourced by
# scripts/demo after it built jippnas ($bin), started a throwaway RabbitMQ ($work/broker) and set $root.
#
#   Kota Surabaya (35.78) ─┐
#                          ├─▶ Jawa Timur (35, relaying) ─▶ national aggregator ─▶ national feed ─▶ Jawa Tengah's mirror
#   Kota Malang   (35.73) ─┘                    Jawa Tengah (33) ─┘
#
# Every hub signs with its own key, every level requires signatures and user-ids, every user is confined
# to its own routing keys by the broker.

levels_hubs=("35:seeds/hubs/35-jawa-timur.csv" "33:seeds/hubs/33-jawa-tengah.json"
             "35.78:seeds/regional/35.78-kota-surabaya.csv" "35.73:seeds/regional/35.73-kota-malang.ndjson")

echo "==> provisioning: provinces from seeds/provinces.csv, kabupaten/kota hubs from seeds/regions.csv"
"$bin" broker provision --hubs seeds/provinces.csv --regions seeds/regions.csv --vhost jippnas --out "$work/definitions.json" \
    --passwords-dir "$work/secrets" --apply --rabbitmqctl "$root/scripts/broker ctl $work/broker"
url_of() { echo "amqp://$1@127.0.0.1:$JIPPNAS_BROKER_PORT/jippnas"; }
export JIPPNAS_BROKER_DECLARE_TOPOLOGY=false

echo "==> signing keys: the nation trusts every hub's; Jawa Timur trusts its kota hubs'"
mkdir -p "$work/trust-national" "$work/trust-35"
for entry in "${levels_hubs[@]}"; do
    hub=${entry%%:*}
    "$bin" keys generate --hub "$hub" --out "$work/keys" > /dev/null
    cp "$work/keys/$hub"-*.pub "$work/trust-national/"
    case $hub in 35.*) cp "$work/keys/$hub"-*.pub "$work/trust-35/" ;; esac
done

echo "==> the national aggregator (and its feed)"
JIPPNAS_BROKER_URLS=$(url_of aggregator) JIPPNAS_BROKER_PASSWORD_FILE="$work/secrets/aggregator.password" \
    JIPPNAS_TRUST_KEYS_DIR="$work/trust-national" JIPPNAS_TRUST_REQUIRE_SIGNATURES=true JIPPNAS_TRUST_REQUIRE_USER_ID=true \
    JIPPNAS_FEED_CHECKPOINT_INTERVAL_S=2 \
    "$bin" aggregator run --config Config/aggregator.yaml --database "$work/national/catalogue.sqlite" >"$work/aggregator.log" 2>&1 &
pids+=($!)

echo "==> four hubs: Jawa Timur relaying Kota Surabaya and Kota Malang, and Jawa Tengah"
for entry in "${levels_hubs[@]}"; do
    hub=${entry%%:*}
    file=${entry#*:}
    db="$work/hub-$hub/hub.sqlite"
    "$bin" hub import --config Config/hub.yaml --province "$hub" --database "$db" "$file" > /dev/null
    regional=()
    if [ "$hub" = 35 ]; then
        regional=(JIPPNAS_REGIONAL_ENABLED=true JIPPNAS_REGIONAL_HUBS=35.78,35.73 JIPPNAS_REGIONAL_CATALOGUE="$work/hub-35/regional.sqlite"
                  JIPPNAS_REGIONAL_KEYS_DIR="$work/trust-35" JIPPNAS_REGIONAL_REQUIRE_SIGNATURES=true JIPPNAS_REGIONAL_REQUIRE_USER_ID=true)
    fi
    env "${regional[@]}" JIPPNAS_BROKER_URLS=$(url_of "hub-$hub") JIPPNAS_BROKER_PASSWORD_FILE="$work/secrets/hub-$hub.password" \
        JIPPNAS_SIGNING_KEY_FILE=$(ls "$work/keys/$hub"-*.key) JIPPNAS_RELAY_CHECKPOINT_INTERVAL_S=2 \
        "$bin" hub run --config Config/hub.yaml --province "$hub" --database "$db" >"$work/hub-$hub.log" 2>&1 &
    pids+=($!)
done

echo "==> Jawa Tengah's mirror of the national catalogue (as hub-33: it may read the feed and nothing else)"
mirror_port=$(jippnas_free_port)
JIPPNAS_BROKER_URLS=$(url_of hub-33) JIPPNAS_BROKER_PASSWORD_FILE="$work/secrets/hub-33.password" \
    JIPPNAS_HTTP_LISTEN="127.0.0.1:$mirror_port" \
    "$bin" mirror run --config Config/mirror.yaml --database "$work/hub-33/mirror.sqlite" >"$work/mirror-33.log" 2>&1 &
pids+=($!)

national="$work/national/catalogue.sqlite"
mirror="$work/hub-33/mirror.sqlite"
wait_for() {  # seconds, command...
    local limit=$1; shift
    for _ in $(seq 1 $((limit * 2))); do "$@" > /dev/null 2>&1 && return 0; sleep 0.5; done
    return 1
}

echo "==> waiting for Kota Surabaya's innovations to arrive nationally through Jawa Timur"
wait_for 60 "$bin" catalogue show 35.78:sby-e-health --database "$national" || { tail -n 5 "$work"/*.log >&2; exit 1; }
echo
"$bin" catalogue show 35.78:sby-e-health --database "$national"

echo
echo "==> Jawa Tengah replicates it: Kota Semarang's E-Health, replicates 35.78:sby-e-health"
cat > "$work/smg.ndjson" <<'EOF'
{"id":"smg-e-health","title":"E-Health Semarang","agency":"Dinas Kesehatan Kota Semarang","region":"33.74","category":"kesehatan","kind":"digital","stage":"uji_coba","initiator":"perangkat_daerah","summary":"Pendaftaran puskesmas daring, mereplikasi E-Health Surabaya.","status":"active","replicates":"35.78:sby-e-health"}
EOF
"$bin" hub import --config Config/hub.yaml --province 33 --database "$work/hub-33/hub.sqlite" "$work/smg.ndjson"

echo "==> waiting for Jawa Tengah's mirror to hold both, equal to the national catalogue"
in_step() { "$bin" catalogue show 33:smg-e-health --database "$mirror" && "$bin" catalogue diff "$national" "$mirror"; }
if ! wait_for 90 in_step; then
    echo "demo --levels: the mirror did not catch up" >&2
    "$bin" catalogue diff "$national" "$mirror" >&2 || true
    tail -n 5 "$work"/*.log >&2
    exit 1
fi
echo
"$bin" mirror status --config Config/mirror.yaml --database "$mirror" || true
echo
echo "==> in Jawa Tengah's mirror: who replicated Surabaya's innovation, where, at what stage"
if command -v curl > /dev/null; then
    curl -s "http://127.0.0.1:$mirror_port/api/v1/innovations/35.78:sby-e-health" | "$JIPPNAS_PYTHON" -c '
import json, sys
d = json.load(sys.stdin)
i = d["innovation"]
print("  ", i["global_id"], "-", i["title"], "(" + i["region"] + ")")
for r in d.get("replicated_by", []):
    print("   replicated by", r["global_id"], "-", r["title"], "in", r["region"], "at stage", r["stage"])
' || true
    echo "   (web page while the demo runs: http://127.0.0.1:$mirror_port/inovasi/35.78:sby-e-health)"
fi
"$bin" catalogue stats --database "$mirror" | sed -n '/most replicated/,$p'
"$bin" catalogue diff "$national" "$mirror" > /dev/null
echo
echo "demo --levels: Kota Surabaya → Jawa Timur → national → Jawa Tengah's mirror; chain verified, mirror equal to the national catalogue"
