package sse_test

import (
	"bufio"
	"strconv"
	"strings"
)

// event is one event as a client dispatches it.
type event struct {
	Type, Data, ID string
}

// streamReader parses an event stream the way the WHATWG HTML standard
// ("Interpreting an event stream") tells a browser to, independently of
// the package's writer, so that tests check what a real client sees.
type streamReader struct {
	br       *bufio.Reader
	retry    int // last "retry:" value, -1 before any
	comments int
	lastID   string
	idSeen   bool
	unknown  int // lines naming a field the standard ignores
}

func newStreamReader(br *bufio.Reader) *streamReader {
	return &streamReader{br: br, retry: -1}
}

// readLine reads one line ended by CRLF, LF or CR. A line cut off by the
// end of input is returned with the error: the standard discards it.
func (p *streamReader) readLine() (string, error) {
	var b []byte
	for {
		c, err := p.br.ReadByte()
		if err != nil {
			return string(b), err
		}
		switch c {
		case '\n':
			return string(b), nil
		case '\r':
			if next, err := p.br.Peek(1); err == nil && next[0] == '\n' {
				_, _ = p.br.ReadByte()
			}
			return string(b), nil
		}
		b = append(b, c)
	}
}

// next returns the next dispatched event. At the end of input a pending,
// undispatched event is dropped and the error returned.
func (p *streamReader) next() (event, error) {
	var evType, data string
	for {
		line, err := p.readLine()
		if err != nil {
			return event{}, err
		}
		if line == "" {
			if data == "" {
				evType = ""
				continue
			}
			data = strings.TrimSuffix(data, "\n")
			if evType == "" {
				evType = "message"
			}
			return event{Type: evType, Data: data, ID: p.lastID}, nil
		}
		if line[0] == ':' {
			p.comments++
			continue
		}
		field, value, found := strings.Cut(line, ":")
		if found {
			value = strings.TrimPrefix(value, " ")
		}
		switch field {
		case "event":
			evType = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.Contains(value, "\x00") {
				p.lastID, p.idSeen = value, true
			}
		case "retry":
			if n, err := strconv.Atoi(value); err == nil && value != "" && strings.Trim(value, "0123456789") == "" {
				p.retry = n
			}
		default:
			p.unknown++
		}
	}
}
