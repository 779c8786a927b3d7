package shqueue

import (
	"errors"
	"hash/fnv"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestKeyFromNameVectors pins the name-to-key function: keys are a file
// format, the same in every process and every version. The vectors were
// computed with an independent implementation (FNV-1a 64, folded as the doc
// says); the loop also checks the fold against hash/fnv.
func TestKeyFromNameVectors(t *testing.T) {
	vectors := []struct {
		name string
		key  int
	}{
		{"orders", 0x50acd6de},
		{"a", 0x296230c0},
		{"demo.ticks", 0x24d66f14},
		{"trading/md/eurusd", 0x458656ea},
		{"é", 0x3dda0906},
		{strings.Repeat("n", 255), 0}, // filled in below from hash/fnv
	}
	for _, v := range vectors {
		h := fnv.New64a()
		h.Write([]byte(v.name))
		sum := h.Sum64()
		want := int(uint32(sum^sum>>32) & 0x7fffffff)
		if v.key != 0 && v.key != want {
			t.Fatalf("vector %q: table says %#x, hash/fnv folds to %#x", v.name, v.key, want)
		}
		got, err := KeyFromName(v.name)
		if err != nil || got != want {
			t.Errorf("KeyFromName(%.20q) = %#x, %v; want %#x", v.name, got, err, want)
		}
		if nameHash(v.name) != sum {
			t.Errorf("nameHash(%.20q) = %#x, hash/fnv %#x", v.name, nameHash(v.name), sum)
		}
	}
}

func TestKeyFromNameInvalid(t *testing.T) {
	for _, name := range []string{"", strings.Repeat("x", 256), "a\x00b", "tab\there", "\xff\xfe", "del\x7f"} {
		if key, err := KeyFromName(name); !errors.Is(err, ErrInvalidArg) {
			t.Errorf("KeyFromName(%q) = %#x, %v; want ErrInvalidArg", name, key, err)
		}
		if q, err := Create(0x7fff_0001, 1, 1, WithName(name)); !errors.Is(err, ErrInvalidArg) {
			if q != nil {
				q.Delete()
				q.Close()
			}
			t.Errorf("Create with WithName(%q) = %v; want ErrInvalidArg", name, err)
		}
	}
}

// TestKeyFromPathMatchesFtok compares KeyFromPath with the C library's
// ftok(3), called through Perl's IPC::SysV (part of every Perl).
func TestKeyFromPathMatchesFtok(t *testing.T) {
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Fatalf("this test calls ftok(3) through perl, which is not installed: %v", err)
	}
	dir := t.TempDir()
	paths := []string{dir, os.Args[0]}
	for i := range 3 {
		p := filepath.Join(dir, "f"+strconv.Itoa(i))
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	ids := []byte{1, 'A', 0x7f, 0x80, 0xff}
	// One perl run for every pair: it prints "path id key" per line.
	args := []string{"-MIPC::SysV=ftok", "-e", `for my $p (@ARGV) { for my $id (1, 65, 127, 128, 255) { printf "%d\n", ftok($p, $id) } }`}
	out, err := exec.Command(perl, append(args, paths...)...).Output()
	if err != nil {
		t.Fatalf("perl ftok: %v", err)
	}
	lines := strings.Fields(string(out))
	if len(lines) != len(paths)*len(ids) {
		t.Fatalf("perl printed %d keys, want %d: %q", len(lines), len(paths)*len(ids), out)
	}
	for i, p := range paths {
		for j, id := range ids {
			want, err := strconv.Atoi(lines[i*len(ids)+j])
			if err != nil {
				t.Fatalf("perl ftok output %q: %v", lines[i*len(ids)+j], err)
			}
			got, err := KeyFromPath(p, id)
			if err != nil || got != want {
				t.Errorf("KeyFromPath(%s, %#x) = %#x, %v; ftok gives %#x", p, id, got, err, want)
			}
		}
	}
	if _, err := KeyFromPath(paths[0], 0); !errors.Is(err, ErrInvalidArg) {
		t.Errorf("KeyFromPath with id 0 = %v, want ErrInvalidArg", err)
	}
	if _, err := KeyFromPath(filepath.Join(dir, "missing"), 1); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("KeyFromPath of a missing file = %v, want fs.ErrNotExist", err)
	}
}
