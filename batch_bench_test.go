package shqueue

import (
	"strconv"
	"testing"
)

// BenchmarkBatch moves 32 64-byte messages per op through one handle in one
// goroutine: one at a time (EnqueueTry/DequeueTry), in batches of 1, 8 and
// 32 (EnqueueBatchTry/DequeueBatchTry), and in place (ClaimTry/ReadTry). With
// no other process the figures are the calls' own cost per message, locked
// instructions and copies, without cross-CPU transfers.
func BenchmarkBatch(b *testing.B) {
	const perOp = 32
	q := newTestQueue(b, 8, 256)
	size := q.MsgSize()
	msgs := fillBatch(size, 1, 0, perOp)
	buf := make([]byte, perOp*size)
	b.Run("single", func(b *testing.B) {
		b.SetBytes(int64(perOp * size))
		for i := 0; i < b.N; i++ {
			for j := 0; j < perOp; j++ {
				q.EnqueueTry(msgs[j*size : (j+1)*size])
			}
			for j := 0; j < perOp; j++ {
				q.DequeueTry(buf[j*size : (j+1)*size])
			}
		}
	})
	for _, n := range []int{1, 8, 32} {
		b.Run("batch"+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(perOp * size))
			for i := 0; i < b.N; i++ {
				for j := 0; j < perOp; j += n {
					q.EnqueueBatchTry(msgs[j*size : (j+n)*size])
				}
				for j := 0; j < perOp; j += n {
					q.DequeueBatchTry(buf[j*size : (j+n)*size])
				}
			}
		})
	}
	b.Run("zerocopy", func(b *testing.B) {
		b.SetBytes(int64(perOp * size))
		for i := 0; i < b.N; i++ {
			for j := 0; j < perOp; j++ {
				c, _ := q.ClaimTry()
				copy(c.Bytes(), msgs[j*size:(j+1)*size])
				c.Commit()
			}
			for j := 0; j < perOp; j++ {
				m, _ := q.ReadTry()
				_ = m.Bytes()[0]
				m.Release()
			}
		}
	})
}
