// Package orders is a small order book: the code under test of flaky-detector's Go example.
package orders

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
)

// Order is one buy order for a symbol.
type Order struct {
	Symbol string
	Qty    int
	Price  float64
}

// ErrEmpty is returned when an order has no quantity.
var ErrEmpty = errors.New("order has no quantity")

// Book keeps orders per symbol.
type Book struct {
	orders map[string][]Order
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{orders: map[string][]Order{}}
}

// Add records an order; a zero quantity is refused.
func (b *Book) Add(o Order) error {
	if o.Qty <= 0 {
		return ErrEmpty
	}
	b.orders[o.Symbol] = append(b.orders[o.Symbol], o)
	return nil
}

// Symbols lists the symbols with orders, sorted.
func (b *Book) Symbols() []string {
	out := make([]string, 0, len(b.orders))
	for s := range b.orders {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Notional is the total value of the orders of a symbol.
func (b *Book) Notional(symbol string) float64 {
	total := 0.0
	for _, o := range b.orders[symbol] {
		total += float64(o.Qty) * o.Price
	}
	return total
}

// Chance is a number in 0..99 drawn from seed and name: FNV-1a (32-bit) of "<seed>:<name>",
// so each test gets its own draw and a failing seed fails again when replayed.
func Chance(seed, name string) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s:%s", seed, name)
	return h.Sum32() % 100
}
