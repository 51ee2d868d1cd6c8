package bolt

import "strings"

// EchoService is the service of the request EchoRequest builds.
const EchoService = "com.alipay.test.TestService:1.0"

// EchoRequestLen is the length of the frame EchoRequest builds.
const EchoRequestLen = 1426

// echoArgLen is the length of the string argument, chosen so that the
// content is 1314 bytes as in sofaload.
const echoArgLen = 1093

// EchoRequest returns a new copy of the request sofaload sends by default:
// bolt v1, cmdcode 1, ver2 1, codec 1 (hessian2), timeout 5000 ms, request
// id 0 (set it with SetRequestID), class ClassRequest, header map
// {"service": EchoService} and 1314 bytes of content, 1426 bytes in all.
//
// The content is a SofaRequest in the early Hessian 2 draft encoding that
// sofa-hessian produces ('O' class definition, 'o' instance, 'M' ... 'z'
// map, 'V' 't' 'n' ... 'z' list): targetAppName null, methodName "echoStr",
// targetServiceUniqueName EchoService, requestProps {protocol: bolt},
// methodArgSigs [java.lang.String], followed by the one argument, a string
// of 1093 digits "1234567890123...".
func EchoRequest() []byte {
	c := make([]byte, 0, 1314)
	c = append(c, 'O')
	c = oldString(c, ClassRequest)
	c = append(c, 0x95) // 5 fields
	for _, f := range []string{"targetAppName", "methodName", "targetServiceUniqueName", "requestProps", "methodArgSigs"} {
		c = oldString(c, f)
	}
	c = append(c, 'o', 0x90) // instance of class 0
	c = append(c, 'N')       // targetAppName
	c = oldString(c, "echoStr")
	c = oldString(c, EchoService)
	c = append(c, 'M', 't', 0, 0) // untyped map
	c = oldString(c, "protocol")
	c = oldString(c, "bolt")
	c = append(c, 'z')
	c = append(c, 'V', 't', 0, 7)
	c = append(c, "[string"...)
	c = append(c, 'n', 1)
	c = oldString(c, "java.lang.String")
	c = append(c, 'z')
	arg := strings.Repeat("1234567890", echoArgLen/10+1)[:echoArgLen]
	c = oldString(c, arg)
	return AppendRequest(make([]byte, 0, EchoRequestLen), Request{
		Proto:   ProtoV1,
		CmdCode: CmdRequest,
		Ver2:    DefaultVer2,
		Codec:   CodecHessian2,
		Timeout: 5000,
		Class:   ClassRequest,
		Headers: [][2]string{{"service", EchoService}},
		Content: c,
	})
}

// oldString appends an ASCII string as Hessian writes it: compact below 32
// characters, else 'S' and a 16-bit length.
func oldString(dst []byte, s string) []byte {
	if len(s) < 32 {
		return append(append(dst, byte(len(s))), s...)
	}
	return append(append(dst, 'S', byte(len(s)>>8), byte(len(s))), s...)
}
