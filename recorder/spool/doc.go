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
// number in the file name plus i. A new segment starts when the next frame
// would take the current one past [Spool.SegmentSize]. The segment being
// written may go on past its last frame with zero bytes, allocated ahead (see
// Appending); it is cut to its frames when the next segment starts and on
// Close. Segments wholly at or below the ack point are deleted once the ack
// point is saved; the segment being written is never deleted, so the sequence
// always resumes after its last record.
//
// # Appending
//
// On Linux (amd64, arm64) the segment being written is mapped shared,
// SegmentSize bytes long, and Append copies each frame into the mapping: no
// system call, and the bytes are in the page cache, the same pages write(2)
// would have filled. A store to a page of the mapping the file does not cover,
// or for which the filesystem has no block, would kill the process with SIGBUS,
// so Append first has fallocate(2) give the file real blocks, 1 MiB at a time
// (only what the frame needs when the disk has less room), and copies only into
// them. When fallocate fails for want of room Append returns the error, as a
// failed write(2) would, and keeps nothing. A frame is copied length first,
// then payload, then its CRC with one 4-byte store, which commits it. Readers
// read the file with pread(2), which sees the mapped pages, and never past the
// last committed frame. Where a segment cannot be mapped or allocated ahead
// (another system, a filesystem without mmap or fallocate), Append writes each
// frame with one pwrite(2) instead, as it does for a record longer than the
// mapping.
//
// # Guarantees
//
// Before Append returns, the record's frame is whole in the page cache (copied
// into the mapping, or written with a single pwrite(2)), so a record whose
// Append returned survives a crash of the process (kill -9) with [SyncNone];
// with [SyncGroup] it also survives a crash of the machine, and a reader sees
// it only after it is on stable storage: fsync(2) of the segment writes the
// pages dirtied through the mapping as it does those of write(2). Sequence
// numbers are never handed out twice, with one exception: after a power cut in
// SyncNone mode, the records the kernel had not yet written are gone and their
// numbers are handed out again. Use an identifier inside the record (janustap's
// event id), not the sequence number, as the JetStream Nats-Msg-Id.
//
// The ack point is saved at most every [Spool.AckInterval] and on Close, so
// after a crash a reader resuming from [Stats].FirstUnacked may see again a few
// records JetStream has already stored; JetStream drops them by message id.
//
// # Recovery
//
// Open reads every segment that holds unacknowledged records and checks each
// frame. Zero bytes after the last frame are the space allocated ahead, the
// normal end of the data: Open cuts the file there without a word. A last
// frame whose CRC field is still zero, with only zeros after it, is an Append
// the process died in the middle of, which never returned: it is cut away
// with a line at level Info. Any other frame cut short or failing its CRC at
// the end of the last segment, with only zeros after it (a torn write, as a
// power cut leaves), is truncated away with a warning and counted in
// [Stats].Truncated. Damage followed by more data is not a torn write: the
// records before it are kept, the rest of that segment is skipped with an
// error in the log and counted in [Stats].Corrupt, and a damaged last segment
// is closed for writing, so that new records start in a new segment numbered
// past anything the damaged part could have held. Readers skip the gap.
package spool
