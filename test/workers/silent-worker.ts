// A worker module that loads but never calls serve(): its pool must not wait forever.
setInterval(() => undefined, 1000);
