//go:build linux

package archive

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestNetworkFSName(t *testing.T) {
	for _, tt := range []struct {
		magic int64
		want  string
	}{
		{unix.NFS_SUPER_MAGIC, "NFS"},
		{unix.SMB2_SUPER_MAGIC, "SMB/CIFS"},
		{int64(int32(-0xacb2be)), "SMB/CIFS"}, // CIFS's magic as a signed 32-bit f_type
		{unix.V9FS_MAGIC, "9p"},
		{unix.FUSE_SUPER_MAGIC, "FUSE (sshfs, s3fs, gcsfuse...)"},
		{unix.EXT4_SUPER_MAGIC, ""},
		{unix.XFS_SUPER_MAGIC, ""},
		{unix.TMPFS_MAGIC, ""},
		{unix.OVERLAYFS_SUPER_MAGIC, ""},
	} {
		if got := networkFSName(tt.magic); got != tt.want {
			t.Errorf("networkFSName(%#x): got %q; want %q", tt.magic, got, tt.want)
		}
	}
}

// TestLocalDirIsNotNetworkFS: the test's own temporary folder, on a local
// disk or tmpfs, raises no warning.
func TestLocalDirIsNotNetworkFS(t *testing.T) {
	got, err := networkFS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if got != "" {
		t.Skipf("the temporary folder is on %s; nothing to check here", got)
	}
}
