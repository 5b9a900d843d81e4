package archive

// Upload on close (OUTPUT_URL=s3://...)
//
// With Config.Uploader set, Dir is a staging folder: the active file grows
// there as without it, and every data file that closes is handed to the
// uploader, which puts it in the bucket and records it there (objstore),
// before the archive forgets it. The uploader, not this folder, is where a
// partition's progress lives across hosts: NextOffset is the offset after
// the last file the bucket holds, so the group commits to Kafka only what
// is in the bucket. The hook is three calls: syncStaging when a partition
// opens, upload when a file closes (rotate) and uploadRotated when recovery
// finishes a rotation that a crash or a failed upload interrupted.
//
// _state/<topic>-<partition>.uploaded holds the bucket's next offset as this
// folder last saw it, written after each upload. When a partition opens,
// the staging folder's files go on only if that is still the bucket's next
// offset and the active file holds records past it; otherwise (another host
// uploaded since, or this one crashed between its upload and forgetting
// the file) the partition's staging state is dropped and it starts again at
// the bucket's next offset: Kafka hands the records over again, and the
// next file is uploaded under the same key as the one a crash may have left
// behind, replacing it whole.
//
// A local write that fails after an upload was recorded (the upload mark,
// the checkpoint without the file) leaves the checkpoint naming a staged
// file whose records all lie below the uploader's next offset: the
// recovery that follows drops it as uploaded (uploadedBefore), never
// uploads it again.
//
// A folder with no upload mark was not staging yet: OUTPUT_URL was just set
// on an existing output folder. Its open data file holds records committed
// to Kafka as they were written, which no other owner takes again, so it
// is never dropped: it is closed before the partition takes a record,
// uploaded when the bucket knows nothing of the partition, and otherwise
// kept in the folder as a rotated folder file under a name no staged file
// takes (closeSwitched, keepSwitched).
//
// The dedup window goes with the partition: each upload carries the keys
// of its two key file generations as they stand at the file's end, and a
// dropped staging state is seeded with the bucket's (Keys).
//
// Dead-letter files stay in the staging folder; they are not uploaded.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tweetpipe/tweetpipe/internal/durable"
)

// Uploader takes the closed files of each partition to object storage.
type Uploader interface {
	// Partition reads the partition's upload state, for its new owner.
	Partition(ctx context.Context, topic string, partition int) (PartitionUploader, error)
}

// PartitionUploader uploads one partition's closed files, in offset order.
type PartitionUploader interface {
	// Next returns the offset after the last file recorded as uploaded,
	// -1 when none was.
	Next() int64
	// Keys returns the dedup window recorded with the last upload: the
	// contents of the older and the newer key file generation.
	Keys() (prev, cur []byte)
	// Upload puts the complete file at path, whose first record is at
	// offset first and whose records all lie before next, under the key of
	// hour (the UTC hour of UploadHour's record) and its first offset, and
	// records it with the dedup window's key files (keys), so that Next
	// returns next. Called again with the same file after a failure, or
	// with a file another owner rebuilt from Next, it puts it under the
	// same key.
	Upload(ctx context.Context, path string, first, next int64, hour time.Time, keys Keys) error
}

// UploadHour returns the hour in the key of an upload whose first record
// (the first at or after the bucket's next offset) has Kafka timestamp t:
// its UTC hour, or for a timestamp the archive cannot use (none, before
// 1970, the year 10000 on) the hour of the Unix epoch. It is a function of
// the record alone, so that whoever builds the file that starts there, on
// any host and at any time, puts it under the same key: not the time the
// record was read, which files such a record in the local folder.
func UploadHour(t time.Time) time.Time {
	if !validTime(t) {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC().Truncate(time.Hour)
}

// takeUploadHour notes the Kafka timestamp t of a record the partition
// takes, with an uploader: the first one taken since the last upload
// names the hour of the next. A file open with no hour noted holds records
// taken before the folder staged uploads; its folder's hour names it
// (upload).
func (p *Partition) takeUploadHour(t time.Time) {
	if p.up != nil && p.uploadHour.IsZero() && p.active == nil {
		p.uploadHour = UploadHour(t)
	}
}

// Keys are the contents of a partition's two dedup key file generations.
type Keys struct{ Prev, Cur []byte }

// uploadTimeout bounds one upload, retries included.
const uploadTimeout = 10 * time.Minute

// uploadedPath returns the file holding the bucket's next offset as the
// staging folder last saw it, relative to Dir.
func uploadedPath(topic string, partition int) string {
	return filepath.Join(stateDirName, fmt.Sprintf("%s-%d.uploaded", topic, partition))
}

// syncStaging runs when a partition opens with an uploader, before
// recovery: it keeps the staging folder's state only where it continues the
// bucket's (see the top of this file).
func (p *Partition) syncStaging(ctx context.Context) error {
	up, err := p.cfg.Uploader.Partition(ctx, p.topic, p.partition)
	if err != nil {
		return fmt.Errorf("reading the upload state: %w", err)
	}
	p.up = up
	next := up.Next()
	seen, known, err := p.readUploaded()
	if err != nil {
		return err
	}
	local, err := p.readLocalCheckpoint()
	if err != nil {
		return err
	}
	if openAtSwitch(local, seen, known) {
		if err := p.closeSwitched(next); err != nil {
			return err
		}
		if seen, known, err = p.readUploaded(); err != nil {
			return err
		}
		if p.ckpt.Active != "" && p.ckpt.ActiveSize > 0 {
			// Never drop it below (resetStaging): it is not in the
			// bucket, and no other owner takes its records again.
			return fmt.Errorf("the data file open at the switch to a bucket, %s, is still staged after it was closed", p.abs(p.ckpt.Active))
		}
		c := p.ckpt
		local, next = &c, up.Next()
	}
	keep := known && seen == next || !known && next < 0
	if local != nil && (local.NextOffset < next || local.NextOffset == next && local.Active != "") {
		keep = false // its active file, if any, holds nothing past the bucket
	}
	if known && next >= 0 && local != nil && local.NextOffset > next && local.UploadHour.IsZero() {
		// Records taken past the bucket by a version that did not note
		// their hour: start again at the bucket's offset (Kafka's commit
		// is not past it), where the hour comes from.
		keep = false
	}
	if keep {
		if !known {
			return p.writeUploaded(next)
		}
		return nil
	}
	return p.resetStaging(local, next)
}

// openAtSwitch reports whether the staging folder's checkpoint local names
// a data file that was open when the folder was switched from an output
// folder to a bucket: the folder has no upload mark yet (seen, known: the
// upload mark), or the mark says the bucket had nothing (an earlier
// version kept such a file open past the switch) and the file has no
// upload hour (a file opened with an uploader has one). Its records were
// committed to Kafka as they were written, so no other owner takes them
// again: the file must not be dropped.
func openAtSwitch(local *checkpoint, seen int64, known bool) bool {
	return local != nil && local.Active != "" && local.UploadHour.IsZero() && (!known || seen < 0)
}

// closeSwitched closes the file that was open when the folder was switched
// to a bucket (openAtSwitch), before the partition takes a record, so that
// it does not stay in the staging folder for a later owner to drop. When
// the bucket knows nothing of the partition (next is -1) the file is
// uploaded, as the first of the bucket's, and the bucket then holds every
// offset the folder did from it on. Otherwise another consumer has
// uploaded since the switch, from Kafka's committed offset, and this
// file's records would not follow the bucket's: the file is kept in the
// folder with the files closed before the switch (compressed if the folder
// compresses), under its name with .kept before .jsonl (keepSwitched).
func (p *Partition) closeSwitched(next int64) (err error) {
	up := p.up
	if next >= 0 {
		p.up = nil // rotate as in a folder, without an upload
		p.switchKeep = true
	}
	defer func() {
		p.up = up
		p.switchKeep, p.switchRotated = false, false
		if cerr := p.closeFiles(); err == nil {
			err = cerr
		}
	}()
	if err := p.recover(); err != nil {
		return fmt.Errorf("closing the file open at the switch to a bucket: %w", err)
	}
	if next >= 0 {
		if err := p.keepSwitched(next); err != nil {
			return fmt.Errorf("keeping the file open at the switch to a bucket in the folder: %w", err)
		}
		return nil
	}
	if p.active == nil {
		return nil // finished by recovery (a compressed file uploaded), or nothing written
	}
	if err := p.rotate(); err != nil {
		return fmt.Errorf("closing the file open at the switch to a bucket: %w", err)
	}
	return nil
}

// keptExt marks the name of a file kept in the folder at the switch to a
// bucket (keepSwitched): <topic>-p<N>-<offset>.kept.jsonl[.gz|.zst]. No
// staged file has such a name, so the partition's next staged file, which
// may start at the same offset in the same hour (Kafka hands the records
// over again when a commit was lost), never finds it in its way.
const keptExt = ".kept"

// keptName returns the name under which the data file (or compressed file)
// rel is kept.
func keptName(rel string) string {
	dir, base := filepath.Split(rel)
	if i := strings.LastIndex(base, ".jsonl"); i >= 0 {
		return dir + base[:i] + keptExt + base[i:]
	}
	return rel + keptExt
}

// isKept reports whether rel is a kept name (keptName). The marker is
// looked for only before the name's own extension, the last ".jsonl": a
// topic's name may hold ".kept.jsonl" too.
func isKept(rel string) bool {
	base := filepath.Base(rel)
	i := strings.LastIndex(base, ".jsonl")
	return i >= 0 && strings.HasSuffix(base[:i], keptExt)
}

// unkept returns the name the kept file rel had.
func unkept(rel string) string {
	if !isKept(rel) {
		return rel
	}
	dir, base := filepath.Split(rel)
	i := strings.LastIndex(base, ".jsonl")
	return dir + base[:i-len(keptExt)] + base[i:]
}

// keepSwitched keeps the file open at the switch in the folder, after
// recovery, once another consumer uploaded the partition (next, the
// bucket's offset): the file, open or already compressed, gets its kept
// name (keptName) under a hard link, the checkpoint names it so, the old
// name goes, and the file is rotated as a folder file (or its finished
// rotation checkpointed). A crash at any point leaves the checkpoint naming
// the file under one of its names, which exists, and the next open goes on
// from there; the old name is removed only while it is the same file.
func (p *Partition) keepSwitched(next int64) error {
	c := p.ckpt
	switch {
	case p.active != nil && p.active.size == 0:
		return p.rotate() // an empty file: the rotation drops it
	case p.active != nil:
		rel := p.active.rel
		if !isKept(rel) {
			if err := p.linkKept(rel); err != nil {
				return err
			}
			p.active.rel = keptName(rel)
			if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
				return err
			}
			rel = p.active.rel
		}
		if err := p.removeUnkept(rel); err != nil {
			return err
		}
		if err := p.rotate(); err != nil {
			return err
		}
		p.logKept(rel, next)
	case p.switchRotated:
		rel := c.Rotated
		if !isKept(rel) {
			if err := p.linkKept(rel); err != nil {
				return err
			}
			c.Active, c.Rotated = keptName(c.Active), keptName(rel)
			if err := p.writeCheckpoint(c); err != nil {
				return err
			}
			rel = c.Rotated
		}
		if err := p.removeUnkept(rel); err != nil {
			return err
		}
		if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
			return err
		}
		p.logKept(rel, next)
	}
	return nil
}

// linkKept gives the file rel its kept name as a second name. A file
// already there is fine only if it is rel (a crash after the link).
func (p *Partition) linkKept(rel string) error {
	from, to := p.abs(rel), p.abs(keptName(rel))
	err := os.Link(from, to)
	if errors.Is(err, fs.ErrExist) {
		if same, serr := sameFile(from, to); serr != nil || !same {
			if serr != nil {
				return serr
			}
			return fmt.Errorf("refusing to overwrite %s with %s: another file has the kept name", to, from)
		}
		err = nil
	}
	if err != nil {
		return fmt.Errorf("naming the kept file: %w", err)
	}
	crashPoint("switch: kept name linked")
	return durable.SyncDir(filepath.Dir(to))
}

// removeUnkept removes the old name of the kept file rel, if it is still
// there as the same file.
func (p *Partition) removeUnkept(rel string) error {
	from, to := p.abs(unkept(rel)), p.abs(rel)
	same, err := sameFile(from, to)
	if err != nil || !same {
		return err
	}
	if err := os.Remove(from); err != nil {
		return fmt.Errorf("removing the kept file's old name: %w", err)
	}
	crashPoint("switch: old name removed")
	return durable.SyncDir(filepath.Dir(from))
}

// sameFile reports whether the paths a and b both exist and are one file,
// or hold the same bytes (a copy of the folder made after a crash, which
// does not keep hard links).
func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if os.SameFile(fa, fb) {
		return true, nil
	}
	if fa.Size() != fb.Size() {
		return false, nil
	}
	ra, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer ra.Close()
	rb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer rb.Close()
	ba, bb := make([]byte, 64<<10), make([]byte, 64<<10)
	for {
		na, erra := io.ReadFull(ra, ba)
		nb, errb := io.ReadFull(rb, bb)
		if !bytes.Equal(ba[:na], bb[:nb]) {
			return false, nil
		}
		switch {
		case erra == io.EOF || erra == io.ErrUnexpectedEOF:
			return errb == io.EOF || errb == io.ErrUnexpectedEOF, nil
		case erra != nil:
			return false, erra
		case errb != nil:
			return false, errb
		}
	}
}

func (p *Partition) logKept(rel string, next int64) {
	final := p.abs(rel)
	if ext := compressedExt(p.cfg.Compression); ext != "" && !strings.HasSuffix(rel, ext) {
		if ok, _ := exists(final + ext); ok {
			final += ext
		}
	}
	p.log.Warn("the data file open when the folder was switched to a bucket stays in the folder, "+
		"under a name no staged file takes: another consumer uploaded the partition since",
		"path", final, "offset", next)
}

// readLocalCheckpoint returns the staging folder's checkpoint, nil if none.
func (p *Partition) readLocalCheckpoint() (*checkpoint, error) {
	c, found, err := readCheckpoint(p.cfg.Dir, p.topic, p.partition)
	if err != nil || !found {
		return nil, err
	}
	return &c, nil
}

// resetStaging drops the partition's staged data file and dedup keys and
// checkpoints next as its next offset. The dead-letter file stays.
func (p *Partition) resetStaging(local *checkpoint, next int64) error {
	c := checkpoint{Topic: p.topic, Partition: p.partition, NextOffset: next}
	if local != nil {
		for _, rel := range []string{local.Active, local.Rotated} {
			if rel == "" {
				continue
			}
			if err := os.Remove(p.abs(rel)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("dropping staged file: %w", err)
			}
		}
		c.DeadLetter, c.DeadLetterSize, c.DeadLetterCreated = local.DeadLetter, local.DeadLetterSize, local.DeadLetterCreated
		p.log.Info("staging folder behind the bucket; starting at the bucket's next offset",
			"offset", next, "staged_next_offset", local.NextOffset, "dropped", local.Active)
	}
	keys, err := filepath.Glob(p.abs(filepath.Join(stateDirName, fmt.Sprintf("%s-%d.keys.*", p.topic, p.partition))))
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := os.Remove(k); err != nil {
			return fmt.Errorf("dropping staged keys: %w", err)
		}
	}
	if p.dedupOn() {
		// The window as the bucket's last upload left it: generation 0
		// the older keys, 1 the newer (or 0 alone).
		prev, cur := p.up.Keys()
		gens := [][]byte{prev, cur}
		if len(prev) == 0 {
			gens = [][]byte{cur}
		}
		for gen, b := range gens {
			path := p.abs(keysPath(p.topic, p.partition, int64(gen)))
			if _, err := durable.WriteFile(path, b, durable.Replace{Temp: path + ".tmp", Mode: p.cfg.FileMode, Reach: crashPoint}); err != nil {
				return fmt.Errorf("writing the bucket's dedup keys: %w", err)
			}
		}
		c.KeysGen, c.KeysSize = int64(len(gens)-1), int64(len(gens[len(gens)-1]))
	}
	if err := p.writeCheckpoint(c); err != nil {
		return err
	}
	return p.writeUploaded(next)
}

// readUploaded returns the offset in the .uploaded file, and false when
// there is none.
func (p *Partition) readUploaded() (int64, bool, error) {
	b, err := os.ReadFile(p.abs(uploadedPath(p.topic, p.partition)))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("reading upload mark: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, false, fmt.Errorf("upload mark %s: %w", p.abs(uploadedPath(p.topic, p.partition)), err)
	}
	return n, true, nil
}

func (p *Partition) writeUploaded(next int64) error {
	path := p.abs(uploadedPath(p.topic, p.partition))
	_, err := durable.WriteFile(path, []byte(strconv.FormatInt(next, 10)+"\n"),
		durable.Replace{Temp: path + ".tmp", Mode: p.cfg.FileMode, Reach: crashPoint})
	if err != nil {
		return fmt.Errorf("writing upload mark: %w", err)
	}
	return nil
}

// upload hands the closed file at path (first record at first) to the
// uploader, with the checkpoint's next offset and the upload's hour, and
// notes the bucket's new next offset. The next record taken names the
// next upload's hour. fileHour, the hour of the file's folder, stands in
// for the upload's hour only for a file whose records were taken before
// the folder staged uploads (OUTPUT_URL just set to a bucket): no other
// owner rebuilds that one, as Kafka's committed offset is past it.
func (p *Partition) upload(path string, first int64, fileHour time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), uploadTimeout)
	defer cancel()
	start := time.Now()
	next := p.ckpt.NextOffset
	keys, err := p.keyFiles()
	if err != nil {
		return err
	}
	hour := p.uploadHour
	if hour.IsZero() {
		hour = fileHour
	}
	if err := p.up.Upload(ctx, path, first, next, hour, keys); err != nil {
		return fmt.Errorf("uploading %s: %w", path, err)
	}
	p.uploadHour = time.Time{}
	crashPoint("upload: recorded")
	p.log.Info("uploaded data file", "path", path, "offset", first, "next_offset", next,
		"hour", hour.Format(time.RFC3339), "took", time.Since(start).Round(time.Millisecond))
	return p.writeUploaded(next)
}

// keyFiles returns the dedup window's key files as the checkpoint counts
// them.
func (p *Partition) keyFiles() (Keys, error) {
	var k Keys
	if !p.dedupOn() {
		return k, nil
	}
	if p.keysGen > 0 {
		b, err := os.ReadFile(p.abs(keysPath(p.topic, p.partition, p.keysGen-1)))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return k, fmt.Errorf("reading dedup keys: %w", err)
		}
		k.Prev = b
	}
	path := p.abs(keysPath(p.topic, p.partition, p.keysGen))
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return k, fmt.Errorf("reading dedup keys: %w", err)
	}
	if int64(len(b)) < p.keysSize {
		return k, fmt.Errorf("dedup key file %s holds %d bytes, checkpoint %s says %d: keys were lost",
			path, len(b), p.abs(slotsPath(p.topic, p.partition)), p.keysSize)
	}
	k.Cur = b[:p.keysSize]
	return k, nil
}

// uploadRotated finishes, in recovery, a rotation whose file was
// compressed but not uploaded: it uploads it, checkpoints no active file
// and drops the staged copy. A file the bucket already holds
// (uploadedBefore) is not uploaded again.
func (p *Partition) uploadRotated() error {
	first, err := firstOffset(p.ckpt.Active)
	if err != nil {
		return err
	}
	path := p.abs(p.ckpt.Rotated)
	if p.uploadedBefore() {
		if err := p.forgetUploaded(path); err != nil {
			return err
		}
	} else if err := p.upload(path, first, p.ckpt.ActiveHour); err != nil {
		return err
	}
	if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
		return err
	}
	return p.dropStaged(path)
}

// uploadedBefore reports whether the staged file the checkpoint names is
// in the bucket already: the checkpoint's next offset, past the file's
// records, is not past the bucket's. Only this partition's own upload
// moves the uploader's next offset while it is open (another owner's
// fences it, and an open starts from the bucket, syncStaging), so the file
// is the one this owner uploaded: the upload succeeded and a local write
// after it failed (the upload mark, the checkpoint without the file).
// Uploading it again would put it under the next key, a second object of
// the same records, or be refused (its next offset not past the bucket's).
func (p *Partition) uploadedBefore() bool {
	next := p.up.Next()
	return next >= 0 && p.ckpt.NextOffset <= next
}

// forgetUploaded notes that the staged file at path is in the bucket, as
// upload does after the upload: the next record names the next upload's
// hour, and the upload mark holds the bucket's next offset.
func (p *Partition) forgetUploaded(path string) error {
	p.log.Info("staged data file already uploaded; dropping it", "path", path, "next_offset", p.up.Next())
	p.uploadHour = time.Time{}
	return p.writeUploaded(p.up.Next())
}

// dropUploaded runs after recovery with an uploader: an active file
// holding records that the bucket holds already (uploadedBefore; its
// rotation failed after the upload) is closed and dropped, as the rotation
// would have, rather than stay active, take more records and be uploaded
// again.
func (p *Partition) dropUploaded() error {
	a := p.active
	if p.up == nil || a == nil || a.size == 0 || !p.uploadedBefore() {
		return nil
	}
	p.active = nil
	if err := a.f.Close(); err != nil {
		return fmt.Errorf("closing data file %s: %w", p.abs(a.rel), err)
	}
	if err := p.forgetUploaded(p.abs(a.rel)); err != nil {
		return err
	}
	if err := p.writeCheckpoint(p.snapshot(p.ckpt.NextOffset)); err != nil {
		return err
	}
	return p.dropStaged(p.abs(a.rel))
}

// dropStaged removes a file the bucket now holds.
func (p *Partition) dropStaged(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing uploaded file from the staging folder: %w", err)
	}
	return nil
}

// firstOffset reads the first offset out of a data file's name (DataPath).
func firstOffset(rel string) (int64, error) {
	name := filepath.Base(rel)
	name = name[:len(name)-len(filepath.Ext(name))] // .jsonl
	i := strings.LastIndexByte(name, '-')
	n, err := strconv.ParseInt(name[i+1:], 10, 64)
	if i < 0 || err != nil {
		return 0, fmt.Errorf("data file %s: no first offset in its name", rel)
	}
	return n, nil
}
