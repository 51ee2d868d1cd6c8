package http1

import "errors"

// ErrNeedMore reports that data does not yet hold a complete head (or, for a
// BodyReader, a complete chunk-size line or trailer section). The caller keeps
// the unconsumed bytes, appends what it reads next and calls again.
var ErrNeedMore = errors.New("http1: need more data")

// Error is a protocol violation found in a message. Status is the response
// status a server answers a request with before closing the connection (400
// unless noted on the sentinel). For a malformed response a proxy answers its
// client with 502 whatever Status says.
//
// Every *Error returned by this package is one of the sentinels below, so
// callers compare with == or errors.Is.
type Error struct {
	Status int
	Msg    string
}

func (e *Error) Error() string { return "http1: " + e.Msg }

// StatusOf returns the status code a server should answer with for err: the
// Status of an *Error, or 400 for any other non-nil error.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 400
}

// Sentinel errors. The comment states the RFC 9112/9110 rule broken.
var (
	// ErrHeaderTooLarge: the head exceeds Limits.MaxHeaderBytes (431).
	ErrHeaderTooLarge = &Error{431, "header section too large"}
	// ErrTooManyHeaders: more than Limits.MaxHeaders field lines (431).
	ErrTooManyHeaders = &Error{431, "too many header fields"}

	// ErrBareLF: a line ends in LF without CR (RFC 9112 §2.2 permits
	// accepting it; this codec does not).
	ErrBareLF = &Error{400, "bare LF line ending"}
	// ErrBareCR: a CR not followed by LF (RFC 9112 §2.2).
	ErrBareCR = &Error{400, "bare CR"}
	// ErrLeadingWhitespace: whitespace before the first field line or an
	// empty line before the request line (RFC 9112 §2.2).
	ErrLeadingWhitespace = &Error{400, "whitespace or empty line before the first line"}

	// ErrBadRequestLine: the request line is not method SP target SP version.
	ErrBadRequestLine = &Error{400, "malformed request line"}
	// ErrBadMethod: the method is not a token.
	ErrBadMethod = &Error{400, "invalid method"}
	// ErrBadTarget: the request-target is malformed or its form does not
	// fit the method (asterisk-form only with OPTIONS, authority-form only and
	// always with CONNECT).
	ErrBadTarget = &Error{400, "invalid request-target"}
	// ErrBadVersion: the version is not of the form HTTP/DIGIT.DIGIT.
	ErrBadVersion = &Error{400, "malformed HTTP version"}
	// ErrVersionNotSupported: a well-formed version other than HTTP/1.0 and
	// HTTP/1.1 (505).
	ErrVersionNotSupported = &Error{505, "HTTP version not supported"}
	// ErrBadStatusLine: the status line is malformed or the status code is
	// not in 100..599.
	ErrBadStatusLine = &Error{400, "malformed status line"}

	// ErrObsFold: a field line starting with SP or HTAB (obsolete line
	// folding, RFC 9112 §5.2).
	ErrObsFold = &Error{400, "obsolete line folding"}
	// ErrSpaceBeforeColon: whitespace between field name and colon (RFC 9112
	// §5.1).
	ErrSpaceBeforeColon = &Error{400, "whitespace before colon in field line"}
	// ErrBadFieldName: empty field name, a non-token byte in it, or a line
	// without a colon.
	ErrBadFieldName = &Error{400, "invalid field name"}
	// ErrBadFieldValue: a CTL other than HTAB, or DEL, in a field value.
	ErrBadFieldValue = &Error{400, "invalid field value"}

	// ErrBadContentLength: a Content-Length value that is not 1*DIGIT or
	// does not fit in an int64 (RFC 9112 §6.3).
	ErrBadContentLength = &Error{400, "invalid Content-Length"}
	// ErrConflictingContentLength: several Content-Length field lines whose
	// values are not byte-for-byte identical.
	ErrConflictingContentLength = &Error{400, "conflicting Content-Length"}
	// ErrContentLengthWithTE: Content-Length and Transfer-Encoding together
	// (RFC 9112 §6.3 rule 3 allows rejecting; a proxy must, against smuggling).
	ErrContentLengthWithTE = &Error{400, "Content-Length with Transfer-Encoding"}
	// ErrBadTransferEncoding: chunked is not the final coding, is applied
	// twice, or the field is empty (RFC 9112 §6.3 rule 4), or
	// Transfer-Encoding is sent in an HTTP/1.0 message (RFC 9112 §6.1).
	ErrBadTransferEncoding = &Error{400, "invalid Transfer-Encoding"}
	// ErrUnsupportedTransferEncoding: a request uses a transfer coding other
	// than chunked (RFC 9112 §6.1 says 501).
	ErrUnsupportedTransferEncoding = &Error{501, "unsupported transfer coding"}
	// ErrBadTrailerField: a Trailer field announces Content-Length,
	// Transfer-Encoding or Trailer, which cannot be trailers.
	ErrBadTrailerField = &Error{400, "forbidden field in Trailer"}

	// ErrMissingHost: an HTTP/1.1 request without Host (RFC 9112 §3.2).
	ErrMissingHost = &Error{400, "missing Host"}
	// ErrMultipleHost: more than one Host field line (RFC 9112 §3.2).
	ErrMultipleHost = &Error{400, "multiple Host fields"}
	// ErrBadHost: a Host value that is not uri-host [":" port].
	ErrBadHost = &Error{400, "invalid Host"}

	// ErrBadChunk: a chunk-size line that is not 1*HEXDIG followed by
	// well-formed extensions and CRLF, a size over 16 hex digits or above
	// MaxInt64, or chunk data not followed by CRLF.
	ErrBadChunk = &Error{400, "malformed chunked encoding"}
	// ErrChunkLineTooLong: a chunk-size line (with extensions) longer than
	// Limits.MaxChunkLineBytes.
	ErrChunkLineTooLong = &Error{400, "chunk-size line too long"}
	// ErrChunkOverhead: too much framing (sizes, extensions) per data byte;
	// see Limits.MaxChunkOverhead.
	ErrChunkOverhead = &Error{400, "chunked encoding has too much non-data"}
	// ErrTrailerTooLarge: the trailer section exceeds Limits.MaxTrailerBytes
	// or Limits.MaxHeaders fields.
	ErrTrailerTooLarge = &Error{400, "trailer section too large"}

	// ErrInvalidArgument: a mutation of a Header was given a name, value,
	// method, target or status that cannot be serialised safely.
	ErrInvalidArgument = &Error{500, "invalid argument"}
)
