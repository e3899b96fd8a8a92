package pgstore

import (
	"encoding/json"
	"fmt"

	"github.com/addonkit/herokupartner"
	"github.com/google/uuid"
)

// sealPayload encodes job's payload, encrypted when the Store has a key.
func (s *Store) sealPayload(job herokupartner.Job) (string, bool, error) {
	r := job.Request
	p := jobPayload{
		Name: r.Name, Plan: r.Plan, Region: r.Region, CallbackURL: r.CallbackURL, Options: r.Options,
		HerokuID: r.HerokuID, LogInputURL: r.LogInputURL.Reveal(), LogDrain: r.LogDrainToken.Reveal(),
		Resolution: job.Resolution, Message: job.Message,
	}
	if g := r.OAuthGrant; g != nil {
		p.Grant = &jobGrant{Code: g.Code.Reveal(), ExpiresAt: g.ExpiresAt, Type: g.Type}
	}
	if len(job.Config) > 0 {
		p.Config = make(map[string]string, len(job.Config))
		for k, v := range job.Config {
			p.Config[k] = v.Reveal()
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		// Only the types' names can appear here, never a value.
		return "", false, fmt.Errorf("encoding the job: %w", err)
	}
	if s.aead == nil {
		return string(b), false, nil
	}
	sealed, err := s.seal(r.UUID, colPayload, string(b))
	return sealed, true, err
}

// openPayload decodes a stored payload into j.
func (s *Store) openPayload(id uuid.UUID, stored string, encrypted bool, j *herokupartner.Job) error {
	switch {
	case encrypted && s.aead == nil:
		return fmt.Errorf("%w: the job is encrypted and this store has no key (WithEncryptionKey)", ErrDecrypt)
	case !encrypted && s.aead != nil:
		return fmt.Errorf("%w: the job is not encrypted but this store has a key", ErrDecrypt)
	case encrypted:
		plain, err := s.open(id, colPayload, stored)
		if err != nil {
			return err
		}
		stored = plain
	}
	var p jobPayload
	if err := json.Unmarshal([]byte(stored), &p); err != nil {
		// The decoder's message could quote the payload; say only where.
		return fmt.Errorf("job of resource %s: stored payload is not valid JSON", id)
	}
	j.Request = herokupartner.ProvisionRequest{
		UUID: id, Name: p.Name, Plan: p.Plan, Region: p.Region, CallbackURL: p.CallbackURL, Options: p.Options,
		HerokuID: p.HerokuID, LogInputURL: herokupartner.NewSecret(p.LogInputURL), LogDrainToken: herokupartner.NewSecret(p.LogDrain),
	}
	if g := p.Grant; g != nil {
		j.Request.OAuthGrant = &herokupartner.OAuthGrant{Code: herokupartner.NewSecret(g.Code), ExpiresAt: g.ExpiresAt, Type: g.Type}
	}
	j.Resolution, j.Message = p.Resolution, p.Message
	if len(p.Config) > 0 {
		j.Config = make(map[string]herokupartner.Secret, len(p.Config))
		for k, v := range p.Config {
			j.Config[k] = herokupartner.NewSecret(v)
		}
	}
	return nil
}
