package password

// NewTestHasher is NewHasher without the floor for new hashes, so that
// tests can hash with cheap parameters. It exists only in test builds.
func NewTestHasher(opts Options) (*Hasher, error) {
	h := new(Hasher)
	h.once.Do(func() {
		p := opts.Params.withDefaults()
		if h.err = p.checkStored(); h.err == nil {
			h.err = h.setupParams(p, opts)
		}
	})
	if h.err != nil {
		return nil, h.err
	}
	return h, nil
}
