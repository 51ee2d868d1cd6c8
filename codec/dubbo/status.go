package dubbo

// Response status codes (dubbo Response).
const (
	StatusOK                        byte = 20
	StatusClientTimeout             byte = 30
	StatusServerTimeout             byte = 31
	StatusBadRequest                byte = 40
	StatusBadResponse               byte = 50
	StatusServiceNotFound           byte = 60
	StatusServiceError              byte = 70
	StatusServerError               byte = 80
	StatusClientError               byte = 90
	StatusServerThreadpoolExhausted byte = 100
)

// StatusName returns the dubbo name of a status, e.g. "SERVICE_NOT_FOUND",
// or "" for an unknown code.
func StatusName(s byte) string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusClientTimeout:
		return "CLIENT_TIMEOUT"
	case StatusServerTimeout:
		return "SERVER_TIMEOUT"
	case StatusBadRequest:
		return "BAD_REQUEST"
	case StatusBadResponse:
		return "BAD_RESPONSE"
	case StatusServiceNotFound:
		return "SERVICE_NOT_FOUND"
	case StatusServiceError:
		return "SERVICE_ERROR"
	case StatusServerError:
		return "SERVER_ERROR"
	case StatusClientError:
		return "CLIENT_ERROR"
	case StatusServerThreadpoolExhausted:
		return "SERVER_THREADPOOL_EXHAUSTED_ERROR"
	}
	return ""
}

// Response types: the hessian int that starts the body of an OK response.
const (
	ResponseWithException                int32 = 0
	ResponseValue                        int32 = 1
	ResponseNullValue                    int32 = 2
	ResponseWithExceptionWithAttachments int32 = 3
	ResponseValueWithAttachments         int32 = 4
	ResponseNullValueWithAttachments     int32 = 5
)
