// Package spool keeps events on local disk until JetStream has acknowledged them.
//
// The tap appends every signaling message to a [Spool] before it forwards the
// message; the shipper reads the spool in order, publishes to JetStream and
// acknowledges what JetStream has stored. The spool knows nothing of the event
// schema: a record is an opaque byte slice.
//
//	sp := spool.New(dir)
//	if err := sp.Open(); err != nil { ... }
//	defer sp.Close()
//
//	// tap, on the hot path, before forwarding:
//	if _, err := sp.Append(encoded); errors.Is(err, spool.ErrFull) { ... count the drop, forward anyway }
//
//	// shipper, in its own goroutine:
//	after := sp.Stats().FirstUnacked - 1
//	for {
//		recs, err := sp.ReadBatch(ctx, after, 256)
//		if err != nil { ... }
//		... publish recs in order, then:
//		after = recs[len(recs)-1].Seq
//		sp.Ack(after)
//	}
//
// # Files
//
// The directory (mode 0700) holds segment files (mode 0600) named for the
// sequence number of their first record, in 20 decimal digits:
//
//	00000000000000000001.seg
//	00000000000000052117.seg
//	acked   the ack point, in decimal, written to acked.tmp and renamed
//	lock    held with flock(2) while a Spool has the directory open
//
// A segment is a run of frames, each
//
//	[u32 length][u32 CRC-32C][payload]
//
// little endian, where the CRC (Castagnoli) covers the four length bytes and
// then the payload, so that a run of zero bytes never reads as a record.
// Sequence numbers start at 1; record i of a segment (from 0) has the sequence
// number in the file name plus i. A new segment starts when the next frame would
// take the current one past [Spool.SegmentSize]. Segments wholly at or below the
// ack point are deleted once the ack point is saved; the segment being written
// is never deleted, so the sequence always resumes after its last record.
//
// # Guarantees
//
// Append writes each frame with a single write(2) before it returns, so a
// record whose Append returned survives a crash of the process (kill -9) with
// [SyncNone]; with [SyncGroup] it also survives a crash of the machine, and a
// reader sees it only after it is on stable storage. Sequence numbers are never
// handed out twice, with one exception: after a power cut in SyncNone mode, the
// records the kernel had not yet written are gone and their numbers are handed
// out again. Use an identifier inside the record (janustap's event id), not the
// sequence number, as the JetStream Nats-Msg-Id.
//
// The ack point is saved at most every [Spool.AckInterval] and on Close, so
// after a crash a reader resuming from [Stats].FirstUnacked may see again a few
// records JetStream has already stored; JetStream drops them by message id.
//
// # Recovery
//
// Open reads every segment that holds unacknowledged records and checks each
// frame. A frame cut short or failing its CRC at the end of the last segment (a
// torn write) is truncated away with a warning and counted in
// [Stats].Truncated. Damage followed by more data is not a torn write: the
// records before it are kept, the rest of that segment is skipped with an
// error in the log and counted in [Stats].Corrupt, and a damaged last segment
// is closed for writing, so that new records start in a new segment numbered
// past anything the damaged part could have held. Readers skip the gap.
//
// It imports only the standard library.
package spool
