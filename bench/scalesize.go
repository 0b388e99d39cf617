package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// redisInfo is one section of Redis's INFO, as a map of its fields.
func redisInfo(addr, section string) (map[string]string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintf(c, "*2\r\n$4\r\nINFO\r\n$%d\r\n%s\r\n", len(section), section); err != nil {
		return nil, err
	}
	return readInfo(bufio.NewReader(c))
}

// readInfo reads INFO's answer, a bulk string of "field:value" lines.
func readInfo(br *bufio.Reader) (map[string]string, error) {
	head, err := br.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(head, "$") {
		return nil, fmt.Errorf("redis INFO answered %q", strings.TrimSpace(head))
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil || n < 0 {
		return nil, fmt.Errorf("redis INFO answered %q", strings.TrimSpace(head))
	}
	body := make([]byte, n+2)
	if _, err := io.ReadFull(br, body); err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(body[:n]), "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out, nil
}

// diskUsage is what the trees under dirs take on disk: the blocks of
// every file and folder, counting a file with several names (a hard link)
// once, and how many there are. A missing dir counts for nothing; a file
// removed during the walk is skipped.
func diskUsage(dirs ...string) (bytes int64, files int, err error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			fi, err := os.Lstat(path)
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			st, ok := fi.Sys().(*syscall.Stat_t)
			if !ok {
				return fmt.Errorf("%s: no inode", path)
			}
			in := inode{uint64(st.Dev), st.Ino}
			if !seen[in] {
				seen[in] = true
				bytes += st.Blocks * 512
				files++
			}
			return nil
		})
		if err != nil {
			return 0, 0, err
		}
	}
	return bytes, files, nil
}
