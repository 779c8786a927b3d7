package main

// libraryCopyVariant reports the copy routine the library chose, once the
// library exports it.
func libraryCopyVariant() string { return "" }
