#include "textflag.h"

// func Relax(): PAUSE.
TEXT ·Relax(SB),NOSPLIT|NOFRAME,$0
	PAUSE
	RET
