package store

// SetAfterRead sets a hook that runs in Post between reading a post from
// disk and caching it.
func SetAfterRead(s *Store, f func()) { s.afterRead = f }
