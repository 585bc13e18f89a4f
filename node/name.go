package node

// Name returns the node's display name.
func (l *Local) Name() string {
	if n := l.name.Load(); n != nil {
		return *n
	}
	return l.ID.Name
}

// Rename sets the node's display name: in the data dir, and in the ops it
// signs from now on (a genesis, a join). The groups it is in learn the
// name from the Rename ops that replica.Replica.Rename writes (the HTTP
// API's PATCH /api/v1/node does both).
func (l *Local) Rename(name string) error {
	if err := writeConfig(l.Dir, name); err != nil {
		return err
	}
	l.Replica.SetName(name)
	l.name.Store(&name)
	return nil
}
