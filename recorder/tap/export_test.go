package tap

import "time"

// SetWSIdleAfter sets how long the relays of t wait for the next message
// on the goroutine that relayed the last one. A nanosecond makes them hand
// every wait to a new goroutine.
func SetWSIdleAfter(t *Tap, d time.Duration) { t.wsIdleAfter = d }
