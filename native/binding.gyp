{
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS"],
    "cflags_cc": ["-std=c++17", "-Wall", "-Wextra", "-O2"]
  },
  "targets": [
    {
      "target_name": "airlock",
      "sources": ["src/addon.cc", "src/memory.cc", "src/process.cc"]
    },
    {
      "target_name": "crashy",
      "sources": ["../test/fixtures/crashy/crashy.cc"]
    }
  ]
}
