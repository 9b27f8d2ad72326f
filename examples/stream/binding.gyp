# Builds libtiles and its binding into build/Release/tiles.node (`npm run build:native`).
{
  "targets": [
    {
      "target_name": "tiles",
      "sources": ["native/tiles.c", "native/binding.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      "cflags": ["-Wall", "-O2"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"]
    }
  ]
}
