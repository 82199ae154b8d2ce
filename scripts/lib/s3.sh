# A throwaway S3 server (scripts/s3-server, in the background) for the test suite and the
# cluster script. Source this file, then:
#   start_s3 DIR PORT_BASE   # S3 on 127.0.0.1:$((PORT_BASE+3)), bucket `graphdrive`
# It exports S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION, and sets
# S3_PID; stop_s3 ends the server.

start_s3() {
  local dir="$1" base="$2" here
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-graphdrive}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-graphdrive-secret}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  mkdir -p "$dir"
  "$here/s3-server" "$dir" "$base" >"$dir/s3-server.log" 2>&1 &
  S3_PID=$!
  export S3_ENDPOINT="http://127.0.0.1:$((base + 3))"
  for _ in $(seq 240); do
    # Ready when the bucket answers a signed listing.
    if curl -sf -o /dev/null --aws-sigv4 "aws:amz:$AWS_REGION:s3" \
      --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" "$S3_ENDPOINT/graphdrive?max-keys=1"; then
      return 0
    fi
    kill -0 "$S3_PID" 2>/dev/null || { cat "$dir/s3-server.log" >&2; echo "the S3 server did not start" >&2; return 1; }
    sleep 0.5
  done
  echo "the S3 server did not answer on $S3_ENDPOINT within two minutes" >&2
  return 1
}

stop_s3() {
  if [ -n "${S3_PID:-}" ]; then
    kill "$S3_PID" 2>/dev/null || true
    wait "$S3_PID" 2>/dev/null || true
  fi
  S3_PID=
}
