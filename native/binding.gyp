# airlock's addon (src/): memfd shared memory, prctl, futexes, peer credentials. `npm run build:prebuild` builds it
# into prebuilds/ (shipped in the package); a user's install builds it from source only when no
# prebuild fits (node-gyp-build). Needs only node-addon-api, a dependency, so that build works.
{
  "targets": [
    {
      "target_name": "airlock",
      "sources": ["src/addon.cc", "src/memory.cc", "src/process.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
