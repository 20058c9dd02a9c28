package cost

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSaveProfileMode checks that saving over an existing file keeps its
// permissions (calibrate --out turned a 0644 file into 0600, the temporary
// file's) and that a new file is 0644.
func TestSaveProfileMode(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		existing os.FileMode // 0: no file before
		want     os.FileMode
	}{
		{"new file", 0, 0o644},
		{"existing 0644", 0o644, 0o644},
		{"existing 0640", 0o640, 0o640},
		{"existing 0600", 0o600, 0o600},
		{"existing 0664", 0o664, 0o664},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".json")
			if tt.existing != 0 {
				if err := os.WriteFile(path, []byte("{}"), tt.existing); err != nil {
					t.Fatal(err)
				}
				// WriteFile's mode is subject to the umask.
				if err := os.Chmod(path, tt.existing); err != nil {
					t.Fatal(err)
				}
			}
			if err := SaveProfile(path, testProfile()); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tt.want {
				t.Errorf("mode %v, want %v", got, tt.want)
			}
		})
	}
}
