# Source this: build settings shared by scripts/test, .ci/run and developers.
# Link Debian's librocksdb when present (fast); otherwise the rocksdb crate builds its bundled copy.
if [ -f /usr/lib/x86_64-linux-gnu/librocksdb.so ] || [ -f /usr/lib/x86_64-linux-gnu/librocksdb.a ]; then
  export ROCKSDB_LIB_DIR=/usr/lib/x86_64-linux-gnu
  export ROCKSDB_INCLUDE_DIR=/usr/include
elif [ -f /usr/lib/aarch64-linux-gnu/librocksdb.so ]; then
  export ROCKSDB_LIB_DIR=/usr/lib/aarch64-linux-gnu
  export ROCKSDB_INCLUDE_DIR=/usr/include
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/chaintrace-target}"
export CHAINTRACE_TOOLS="${CHAINTRACE_TOOLS:-$HOME/.cache/chaintrace-tools}"
