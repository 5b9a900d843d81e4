//go:build linux

package archive

import "golang.org/x/sys/unix"

// networkFS returns the kind of file system dir is on when it is a network
// (or FUSE) one, where flock may be no fence between two hosts and fsync
// may not mean the bytes are on a disk; "" otherwise.
func networkFS(dir string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", err
	}
	return networkFSName(int64(st.Type)), nil
}

// networkFSName names the network file systems by their statfs magic
// number, "" for any other.
func networkFSName(magic int64) string {
	switch uint32(magic) {
	case unix.NFS_SUPER_MAGIC:
		return "NFS"
	case unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC:
		return "SMB/CIFS"
	case unix.V9FS_MAGIC:
		return "9p"
	case unix.FUSE_SUPER_MAGIC:
		return "FUSE (sshfs, s3fs, gcsfuse...)"
	case unix.CEPH_SUPER_MAGIC:
		return "CephFS"
	case unix.AFS_SUPER_MAGIC:
		return "AFS"
	case unix.CODA_SUPER_MAGIC:
		return "Coda"
	}
	return ""
}
