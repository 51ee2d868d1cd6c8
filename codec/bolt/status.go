package bolt

// Response status codes (sofa-bolt ResponseStatus). Note the jump from 0x09
// to 0x10.
const (
	StatusSuccess                 uint16 = 0x00
	StatusError                   uint16 = 0x01
	StatusServerException         uint16 = 0x02
	StatusUnknown                 uint16 = 0x03
	StatusServerThreadpoolBusy    uint16 = 0x04
	StatusErrorComm               uint16 = 0x05
	StatusNoProcessor             uint16 = 0x06
	StatusTimeout                 uint16 = 0x07
	StatusClientSendError         uint16 = 0x08
	StatusCodecException          uint16 = 0x09
	StatusConnectionClosed        uint16 = 0x10
	StatusServerSerialException   uint16 = 0x11
	StatusServerDeserialException uint16 = 0x12
)

// StatusName returns the sofa-bolt name of a status, e.g. "NO_PROCESSOR",
// or "" for an unknown code.
func StatusName(s uint16) string {
	switch s {
	case StatusSuccess:
		return "SUCCESS"
	case StatusError:
		return "ERROR"
	case StatusServerException:
		return "SERVER_EXCEPTION"
	case StatusUnknown:
		return "UNKNOWN"
	case StatusServerThreadpoolBusy:
		return "SERVER_THREADPOOL_BUSY"
	case StatusErrorComm:
		return "ERROR_COMM"
	case StatusNoProcessor:
		return "NO_PROCESSOR"
	case StatusTimeout:
		return "TIMEOUT"
	case StatusClientSendError:
		return "CLIENT_SEND_ERROR"
	case StatusCodecException:
		return "CODEC_EXCEPTION"
	case StatusConnectionClosed:
		return "CONNECTION_CLOSED"
	case StatusServerSerialException:
		return "SERVER_SERIAL_EXCEPTION"
	case StatusServerDeserialException:
		return "SERVER_DESERIAL_EXCEPTION"
	}
	return ""
}

// StatusToHTTP maps a bolt status to the HTTP status MOSN reports for it in
// stats and logs: SUCCESS 200, SERVER_THREADPOOL_BUSY 503, TIMEOUT 504,
// CONNECTION_CLOSED 502, anything else 500.
func StatusToHTTP(s uint16) int {
	// Plain numbers keep net/http out of the codec's dependencies.
	switch s {
	case StatusSuccess:
		return 200
	case StatusServerThreadpoolBusy:
		return 503
	case StatusTimeout:
		return 504
	case StatusConnectionClosed:
		return 502
	}
	return 500
}
