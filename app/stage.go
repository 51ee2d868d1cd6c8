package app

// Stage numbers are MOSN's stagemanager states, which /api/v1/states
// reports and orchestrators poll.
const (
	StageNil = iota
	StageParamsParsed
	StageIniting
	StagePreStart
	StageStarting
	StageAfterStart
	StageRunning
	StageBeforeStop
	StageGracefulStopping
	StageStopping
	StageAfterStop
	StageStopped
	StageStartingNewServer
	StageUpgrading
)
