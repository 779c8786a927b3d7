package main

// The -json shapes of the queue commands. Field names are part of the
// tool's interface (see docs/operations.md); add fields, do not rename them.

import (
	"fmt"
	"time"

	"github.com/shqueue/shqueue"
)

type statsJSON struct {
	Enqueued    uint64 `json:"enqueued"`
	Dequeued    uint64 `json:"dequeued"`
	Overwritten uint64 `json:"overwritten"`
	Lost        uint64 `json:"lost"`
}

type processJSON struct {
	PID               int       `json:"pid"`
	Alive             bool      `json:"alive"`
	Attached          time.Time `json:"attached"`
	Entry             int       `json:"entry"`
	SleepingConsumers int       `json:"sleeping_consumers"`
	SleepingProducers int       `json:"sleeping_producers"`
}

type queueJSON struct {
	Key               int           `json:"key"`
	KeyHex            string        `json:"key_hex"`
	ID                int           `json:"id"`
	Owner             string        `json:"owner"`
	UID               int           `json:"uid"`
	Mode              string        `json:"mode"`
	LayoutVersion     uint32        `json:"layout_version"`
	MsgSize           int           `json:"msg_size"`
	Capacity          int           `json:"capacity"`
	Len               int           `json:"len"`
	Head              uint64        `json:"head"`
	Tail              uint64        `json:"tail"`
	Stats             statsJSON     `json:"stats"`
	SegmentSize       int           `json:"segment_size"`
	CreatorPID        int           `json:"creator_pid"`
	Created           time.Time     `json:"created"`
	LastAttach        *time.Time    `json:"last_attach,omitempty"` // kernel's last shmat, inspections included
	LastOpen          *time.Time    `json:"last_open,omitempty"`   // newest handle in the process table
	Attachments       int           `json:"attachments"`
	Removed           bool          `json:"removed"`
	Stale             bool          `json:"stale"` // what rm -stale removes: orphaned and empty
	State             string        `json:"state"` // in use, idle or orphaned
	Name              string        `json:"name,omitempty"`
	SleepingConsumers int           `json:"sleeping_consumers"`
	SleepingProducers int           `json:"sleeping_producers"`
	Processes         []processJSON `json:"processes"`
}

func toStatsJSON(s shqueue.Stats) statsJSON {
	return statsJSON{Enqueued: s.Enqueued, Dequeued: s.Dequeued, Overwritten: s.Overwritten, Lost: s.Lost}
}

func toQueueJSON(info *shqueue.Info) queueJSON {
	j := queueJSON{
		Key: info.Key, KeyHex: keyHex(info.Key), ID: info.ID,
		Owner: ownerName(info.UID), UID: info.UID, Mode: fmt.Sprintf("%04o", uint32(info.Mode)),
		LayoutVersion: info.LayoutVersion, MsgSize: info.MsgSize, Capacity: info.Cap, Len: info.Len,
		Head: info.Head, Tail: info.Tail, Stats: toStatsJSON(info.Stats),
		SegmentSize: info.SegmentSize, CreatorPID: info.CreatorPID, Created: info.Created,
		Attachments: info.Attachments, Removed: info.Removed, Stale: isStale(info),
		State: info.State().String(), Name: info.Name,
		SleepingConsumers: info.SleepingConsumers, SleepingProducers: info.SleepingProducers,
		Processes: []processJSON{},
	}
	if !info.LastAttach.IsZero() {
		j.LastAttach = &info.LastAttach
	}
	if t := lastOpen(info); !t.IsZero() {
		j.LastOpen = &t
	}
	for _, p := range info.Processes {
		j.Processes = append(j.Processes, processJSON{
			PID: p.PID, Alive: p.Alive, Attached: p.Attached, Entry: p.Entry,
			SleepingConsumers: p.SleepingConsumers, SleepingProducers: p.SleepingProducers,
		})
	}
	return j
}

type entryJSON struct {
	Key         int        `json:"key"`
	KeyHex      string     `json:"key_hex"`
	ID          int        `json:"id"`
	Kind        string     `json:"kind"` // shqueue, invalid, foreign, unreadable
	Owner       string     `json:"owner"`
	UID         int        `json:"uid"`
	Mode        string     `json:"mode"`
	Size        int        `json:"size"`
	Attachments int        `json:"attachments"`
	CreatorPID  int        `json:"creator_pid"`
	LastAttach  *time.Time `json:"last_attach,omitempty"`
	Removed     bool       `json:"removed"`
	Error       string     `json:"error,omitempty"`
	Queue       *queueJSON `json:"queue,omitempty"`
}
