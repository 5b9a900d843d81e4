#!/usr/bin/env bash
# kafka-certs.sh DIR [--force]
#
# Generates, for tests only, a throw-away certificate authority and the TLS
# material of a Kafka broker on loopback, with openssl (keys, certificates,
# broker keystore) and keytool (broker truststore):
#
#   ca.pem            the test CA certificate: what clients trust (KAFKA_TLS_CA_FILE)
#   ca-key.pem        its private key
#   broker.pem        broker certificate (SAN IP:127.0.0.1, DNS:localhost), then the CA
#   broker-key.pem    its private key (PKCS#8, unencrypted)
#   broker.p12        broker keystore (PKCS12, alias "broker": key + chain)
#   truststore.p12    broker truststore (PKCS12, the CA as a trusted entry)
#   client.pem        a client certificate (CN=tweetpipe) signed by the CA, for
#   client-key.pem    mutual-TLS tests (KAFKA_TLS_CERT_FILE / KAFKA_TLS_KEY_FILE)
#   client.p12        the same as a PKCS12 keystore (alias "client"), for Java tools
#   wrong-ca.pem      a second CA that signed nothing here: trusting only it
#                     must fail verification (the "untrusted certificate" test)
#
# Existing material is kept when it is complete, opens with the store password
# and is valid for at least another day (unless --force); otherwise it is all
# generated afresh. Prints one line saying which.
#
# Environment:
#   KAFKA_CERTS_STORE_PASSWORD  password of broker.p12 and truststore.p12
#                               (default tweetpipe-test-store)
#   KAFKA_CERTS_EXTRA_SANS      more subjectAltName entries for the broker
#                               certificate, e.g. "DNS:kafka,IP:10.0.0.5"
#   KAFKA_CERTS_DAYS            validity of the leaf certificates (default 825)
set -euo pipefail

STORE_PASSWORD="${KAFKA_CERTS_STORE_PASSWORD:-tweetpipe-test-store}"
EXTRA_SANS="${KAFKA_CERTS_EXTRA_SANS:-}"
DAYS="${KAFKA_CERTS_DAYS:-825}"

log() { echo "kafka-certs: $*"; }
die() { echo "kafka-certs: error: $*" >&2; exit 1; }

FILES=(ca.pem ca-key.pem broker.pem broker-key.pem broker.p12 truststore.p12 client.pem client-key.pem client.p12 wrong-ca.pem)

# certs_usable DIR: the material in DIR is complete, current and matches the
# configured password and SANs.
certs_usable() {
    local dir="$1" f
    [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$(stamp)" ]] || return 1
    for f in "${FILES[@]}"; do [[ -s "$dir/$f" ]] || return 1; done
    openssl x509 -in "$dir/broker.pem" -noout -checkend 86400 >/dev/null 2>&1 || return 1
    openssl x509 -in "$dir/client.pem" -noout -checkend 86400 >/dev/null 2>&1 || return 1
    openssl pkcs12 -in "$dir/broker.p12" -passin "pass:$STORE_PASSWORD" -noout >/dev/null 2>&1 || return 1
    openssl verify -CAfile "$dir/ca.pem" "$dir/broker.pem" >/dev/null 2>&1
}

# stamp: what the material depends on besides time (the password is hashed).
stamp() {
    printf 'sans=%s\nstore=%s\n' "$(broker_sans)" \
        "$(printf '%s' "$STORE_PASSWORD" | openssl dgst -sha256 -r | cut -d' ' -f1)"
}

broker_sans() { echo "IP:127.0.0.1,DNS:localhost${EXTRA_SANS:+,$EXTRA_SANS}"; }

# new_key FILE: an RSA 2048 private key in PKCS#8 PEM (what Go, Java and
# librdkafka all read).
new_key() { openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null; }

# new_ca DIR NAME CN: self-signed CA certificate DIR/NAME.pem with key DIR/NAME-key.pem.
new_ca() {
    local dir="$1" name="$2" cn="$3"
    new_key "$dir/$name-key.pem"
    cat >"$dir/$name.cnf" <<EOF
[req]
distinguished_name = dn
prompt = no
x509_extensions = v3_ca
[dn]
O = tweetpipe tests
CN = $cn
[v3_ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
EOF
    openssl req -new -x509 -sha256 -days 3650 -key "$dir/$name-key.pem" \
        -config "$dir/$name.cnf" -out "$dir/$name.pem"
    rm -f "$dir/$name.cnf"
}

# new_leaf DIR NAME CN EXTENDED_KEY_USAGE [SANS]: DIR/NAME.pem signed by DIR/ca.pem.
new_leaf() {
    local dir="$1" name="$2" cn="$3" eku="$4" sans="${5:-}"
    new_key "$dir/$name-key.pem"
    openssl req -new -sha256 -key "$dir/$name-key.pem" -subj "/O=tweetpipe tests/CN=$cn" \
        -out "$dir/$name.csr"
    {
        echo "basicConstraints = critical, CA:FALSE"
        echo "keyUsage = critical, digitalSignature, keyEncipherment"
        echo "extendedKeyUsage = $eku"
        echo "subjectKeyIdentifier = hash"
        echo "authorityKeyIdentifier = keyid"
        [[ -n "$sans" ]] && echo "subjectAltName = $sans"
    } >"$dir/$name.ext"
    openssl x509 -req -sha256 -days "$DAYS" -in "$dir/$name.csr" \
        -CA "$dir/ca.pem" -CAkey "$dir/ca-key.pem" -CAcreateserial \
        -extfile "$dir/$name.ext" -out "$dir/$name.pem" 2>/dev/null
    rm -f "$dir/$name.csr" "$dir/$name.ext"
}

generate() {
    local dir="$1"
    command -v openssl >/dev/null 2>&1 || die "openssl not found"
    command -v keytool >/dev/null 2>&1 || die "keytool not found (it comes with the JDK)"
    local tmp
    tmp="$(mktemp -d "$dir/.gen.XXXXXX")"
    (
        umask 077
        new_ca "$tmp" ca "tweetpipe test CA"
        new_ca "$tmp" wrong-ca "tweetpipe untrusted test CA"
        rm -f "$tmp/wrong-ca-key.pem"
        new_leaf "$tmp" broker localhost "serverAuth, clientAuth" "$(broker_sans)"
        new_leaf "$tmp" client tweetpipe "clientAuth"
        # The broker presents its certificate followed by the CA.
        cat "$tmp/ca.pem" >>"$tmp/broker.pem"
        openssl pkcs12 -export -name broker -inkey "$tmp/broker-key.pem" -in "$tmp/broker.pem" \
            -passout "pass:$STORE_PASSWORD" -out "$tmp/broker.p12"
        openssl pkcs12 -export -name client -inkey "$tmp/client-key.pem" -in "$tmp/client.pem" \
            -passout "pass:$STORE_PASSWORD" -out "$tmp/client.p12"
        keytool -importcert -noprompt -alias ca -file "$tmp/ca.pem" -storetype PKCS12 \
            -keystore "$tmp/truststore.p12" -storepass "$STORE_PASSWORD" >/dev/null 2>&1 \
            || die "keytool could not write the truststore"
        rm -f "$tmp/ca.srl"
        # Certificates are public; keys and stores stay owner-only.
        chmod 644 "$tmp/ca.pem" "$tmp/wrong-ca.pem" "$tmp/broker.pem" "$tmp/client.pem"
        stamp >"$tmp/.complete"
    ) || { rm -rf "$tmp"; die "generating certificates failed"; }
    local f
    for f in "${FILES[@]}" .complete; do mv -f "$tmp/$f" "$dir/$f"; done
    rmdir "$tmp"
}

main() {
    local dir="${1:-}" force="${2:-}"
    [[ -n "$dir" && ( -z "$force" || "$force" == --force ) ]] \
        || { echo "usage: $0 DIR [--force]" >&2; exit 2; }
    mkdir -p "$dir"
    if [[ "$force" != --force ]] && certs_usable "$dir"; then
        log "reusing the test CA and broker certificate in $dir"
        return 0
    fi
    rm -f "$dir/.complete"
    generate "$dir"
    log "generated a test CA and broker certificate (SAN $(broker_sans)) in $dir"
}

main "$@"
