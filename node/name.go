package node

// SetName renames the node: in node.json, for the next start, and in the
// running replica, for the next genesis or join op. The HTTP API allows
// it only before the node is in a group (see httpapi.Config.Rename).
func (l *Local) SetName(name string) error {
	if err := writeConfig(l.Dir, name); err != nil {
		return err
	}
	l.Replica.SetName(name)
	return nil
}

// name is the node's current name (SetName's, else the identity's).
func (l *Local) name() string { return l.Replica.Name() }
