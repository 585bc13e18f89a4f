package p2p

import (
	"maps"
	"time"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/peer"
)

// GossipSub peer scoring: the second line against a peer that sends
// junk, after the connection gater (gate.go), which blocks a peer that
// sent one invalid op for BlockFor. Scoring acts at once, before the
// disconnect lands, and on a peer the gater cannot hold (one that comes
// back under the same key within the score's retention counts as it
// left): each op the validator rejects costs the peer
// invalidMessageWeight × (count)²; at gossipThreshold this node stops
// gossiping with it, at publishThreshold it sends it none of its own
// ops, and at graylistThreshold everything it sends is ignored unread.
// Only ValidationReject counts: an ignored op (an unknown kind or
// version, an author the group does not know) costs nothing, so a
// member a version ahead is never penalised.
//
// No IP colocation penalty: at a meeting every laptop may sit behind one
// NAT, and in tests all hosts are on 127.0.0.1. No mesh delivery
// penalty (P3): a group is quiet for hours, and a quiet mesh peer is not
// a bad one.
const (
	gossipThreshold    = -10
	publishThreshold   = -50
	graylistThreshold  = -80
	invalidOpWeight    = -10 // 3 invalid ops: -90, graylisted
	scoreRetain        = BlockFor
	invalidOpForgetAll = 10 * time.Minute // the penalty decays to 1% in that time
)

func peerScoreParams() *pubsub.PeerScoreParams {
	return &pubsub.PeerScoreParams{
		Topics:                    map[string]*pubsub.TopicScoreParams{},
		TopicScoreCap:             10,
		AppSpecificScore:          func(peer.ID) float64 { return 0 },
		AppSpecificWeight:         1,
		BehaviourPenaltyWeight:    -1, // broken IWANT promises, GRAFT floods
		BehaviourPenaltyThreshold: 10,
		BehaviourPenaltyDecay:     pubsub.ScoreParameterDecay(time.Minute),
		DecayInterval:             pubsub.DefaultDecayInterval,
		DecayToZero:               pubsub.DefaultDecayToZero,
		RetainScore:               scoreRetain,
	}
}

func peerScoreThresholds() *pubsub.PeerScoreThresholds {
	return &pubsub.PeerScoreThresholds{
		GossipThreshold:             gossipThreshold,
		PublishThreshold:            publishThreshold,
		GraylistThreshold:           graylistThreshold,
		AcceptPXThreshold:           0, // PX is off (WithPeerExchange is not set)
		OpportunisticGraftThreshold: 1,
	}
}

// topicScoreParams are the score parameters of a group's topic, set
// when the host joins it: a small bonus for time in the mesh and for
// first deliveries, and the penalty for invalid ops.
func topicScoreParams() *pubsub.TopicScoreParams {
	return &pubsub.TopicScoreParams{
		TopicWeight:                    1,
		TimeInMeshWeight:               0.01,
		TimeInMeshQuantum:              time.Second,
		TimeInMeshCap:                  100, // +1 after 100 s in the mesh
		FirstMessageDeliveriesWeight:   1,
		FirstMessageDeliveriesDecay:    pubsub.ScoreParameterDecay(10 * time.Minute),
		FirstMessageDeliveriesCap:      5,
		InvalidMessageDeliveriesWeight: invalidOpWeight,
		InvalidMessageDeliveriesDecay:  pubsub.ScoreParameterDecay(invalidOpForgetAll),
	}
}

// inspectScores keeps the peers' latest scores (pubsub calls it every
// second with the connected peers' scores only).
func (h *Host) inspectScores(m map[peer.ID]float64) {
	c := maps.Clone(m)
	h.scores.Store(&c)
}

// score returns p's latest GossipSub score, 0 if none.
func (h *Host) score(p peer.ID) float64 {
	if m := h.scores.Load(); m != nil {
		return (*m)[p]
	}
	return 0
}
