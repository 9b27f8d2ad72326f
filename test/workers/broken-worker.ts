// A worker module that fails while loading, like one whose native library is missing.
throw new Error("libfoo.so.1: cannot open shared object file");
