# Builds libfragile and its binding into build/Release/fragile.node (`npm run build:native`).
{
  "targets": [
    {
      "target_name": "fragile",
      "sources": ["native/fragile.c", "native/binding.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
      # A stack protector, as distributions build their C libraries: an overflow then aborts
      # (SIGABRT, "stack smashing detected") instead of running on with a corrupt stack.
      "cflags": ["-Wall", "-O2", "-fstack-protector-strong"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2", "-fstack-protector-strong"]
    }
  ]
}
