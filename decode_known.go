package herokupartner

// A direct decoder for the three answers every resolution reads (add-on,
// coupling, pipeline). Decoding them by reflection was most of a lookup's
// time on the client side. It reads only a strict subset of JSON (see
// scan, in jsonscan.go: strings of printable ASCII without escapes,
// integers, known keys each at most once, unknown lower-case keys skipped)
// and gives up on anything else, so that encoding/json then decodes the
// same bytes: it either yields exactly what encoding/json would, or
// nothing. Ids and times go through uuid's and time's own parsers, as
// encoding/json does. TestKnownDecodersAgreeWithEncodingJSON,
// FuzzKnownDecoders and TestKnownDecodersKnowEveryField hold it to that.

// decodeKnown decodes data into out when out is one of the known answers
// and data lies in the subset; ok is false otherwise, with out untouched
// or partly written (the caller then decodes into a fresh value).
func decodeKnown(data []byte, out any) (ok bool) {
	d := &scan{b: data}
	switch v := out.(type) {
	case *Addon:
		var a Addon
		d.addon(&a)
		if d.ok() {
			*v = a
		}
	case *Pipeline:
		var p Pipeline
		d.pipeline(&p)
		if d.ok() {
			*v = p
		}
	case *couplingsBody:
		var list []PipelineCoupling
		if d.peek() == '[' {
			list = []PipelineCoupling{}
			d.array(func() {
				list = append(list, PipelineCoupling{})
				d.coupling(&list[len(list)-1])
			})
		} else {
			list = make([]PipelineCoupling, 1)
			d.coupling(&list[0])
		}
		if d.ok() {
			v.list = list
		}
	default:
		return false
	}
	return d.ok()
}

func (d *scan) ref(dst *Ref) {
	if d.null() {
		return
	}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "id":
			d.id(&dst.ID)
			return 1
		case "name":
			d.str(&dst.Name)
			return 2
		}
		return 0
	})
}

// actions reads either shape AddonActions.UnmarshalJSON accepts: a list
// of actions, or a single object (an empty one meaning none).
func (d *scan) actions(dst *AddonActions) {
	switch d.peek() {
	case 'n':
		if d.null() {
			*dst = nil
		}
	case '[':
		list := AddonActions{}
		d.array(func() {
			list = append(list, AddonAction{})
			d.action(&list[len(list)-1])
		})
		*dst = list
	default:
		var one AddonAction
		if d.action(&one) == 0 {
			*dst = AddonActions{}
			return
		}
		*dst = AddonActions{one}
	}
}

// action reads one action and returns how many keys its object had.
func (d *scan) action(a *AddonAction) (keys int) {
	d.object(0, func(k []byte) uint32 {
		keys++
		switch string(k) {
		case "id":
			d.id(&a.ID)
			return 1
		case "label":
			d.str(&a.Label)
			return 2
		case "action":
			d.str(&a.Action)
			return 4
		case "url":
			d.str(&a.URL)
			return 8
		case "requires_owner":
			d.bool(&a.RequiresOwner)
			return 16
		}
		return 0
	})
	return keys
}

func (d *scan) addon(a *Addon) {
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "actions":
			d.actions(&a.Actions)
			return 1 << 0
		case "addon_service":
			d.ref(&a.AddonService)
			return 1 << 1
		case "app":
			d.ref(&a.App)
			return 1 << 2
		case "billed_price":
			d.billedPrice(&a.BilledPrice)
			return 1 << 3
		case "billing_entity":
			d.billingEntity(&a.BillingEntity)
			return 1 << 4
		case "config_vars":
			d.strings(&a.ConfigVars)
			return 1 << 5
		case "created_at":
			d.time(&a.CreatedAt)
			return 1 << 6
		case "id":
			d.id(&a.ID)
			return 1 << 7
		case "name":
			d.str(&a.Name)
			return 1 << 8
		case "plan":
			d.ref(&a.Plan)
			return 1 << 9
		case "provider_id":
			d.str(&a.ProviderID)
			return 1 << 10
		case "provision_message":
			d.str(&a.ProvisionMessage)
			return 1 << 11
		case "state":
			d.str((*string)(&a.State))
			return 1 << 12
		case "updated_at":
			d.time(&a.UpdatedAt)
			return 1 << 13
		case "web_url":
			d.str(&a.WebURL)
			return 1 << 14
		}
		return 0
	})
}

func (d *scan) billedPrice(dst **BilledPrice) {
	if d.null() {
		*dst = nil
		return
	}
	p := &BilledPrice{}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "cents":
			d.int(&p.Cents)
			return 1
		case "contract":
			d.bool(&p.Contract)
			return 2
		case "unit":
			d.str(&p.Unit)
			return 4
		}
		return 0
	})
	*dst = p
}

func (d *scan) billingEntity(dst *BillingEntity) {
	if d.null() {
		return
	}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "id":
			d.id(&dst.ID)
			return 1
		case "name":
			d.str(&dst.Name)
			return 2
		case "type":
			d.str((*string)(&dst.Type))
			return 4
		}
		return 0
	})
}

func (d *scan) coupling(c *PipelineCoupling) {
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "app":
			d.ref(&c.App)
			return 1 << 0
		case "created_at":
			d.time(&c.CreatedAt)
			return 1 << 1
		case "id":
			d.id(&c.ID)
			return 1 << 2
		case "pipeline":
			d.ref(&c.Pipeline)
			return 1 << 3
		case "stage":
			d.str((*string)(&c.Stage))
			return 1 << 4
		case "updated_at":
			d.time(&c.UpdatedAt)
			return 1 << 5
		}
		return 0
	})
}

func (d *scan) pipeline(p *Pipeline) {
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "created_at":
			d.time(&p.CreatedAt)
			return 1 << 0
		case "id":
			d.id(&p.ID)
			return 1 << 1
		case "name":
			d.str(&p.Name)
			return 1 << 2
		case "owner":
			d.owner(&p.Owner)
			return 1 << 3
		case "updated_at":
			d.time(&p.UpdatedAt)
			return 1 << 4
		case "generation":
			d.ref(&p.Generation)
			return 1 << 5
		}
		return 0
	})
}

func (d *scan) owner(dst **PipelineOwner) {
	if d.null() {
		*dst = nil
		return
	}
	o := &PipelineOwner{}
	d.object(0, func(k []byte) uint32 {
		switch string(k) {
		case "id":
			d.id(&o.ID)
			return 1
		case "type":
			d.str(&o.Type)
			return 2
		}
		return 0
	})
	*dst = o
}
