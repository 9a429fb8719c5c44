// Imported after validation-env by the too-large test: the validation handler reads MAX_FILE_BYTES once, at import,
// and 1 MiB makes a file just over the limit cheap to build.
process.env.MAX_FILE_BYTES = String(1024 * 1024);
