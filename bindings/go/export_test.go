package ablyauth

// CompletionsRun is how many completions of non-blocking calls the library has run so far
// (exported for the tests only).
func CompletionsRun() int64 { return completionsRun.Load() }
