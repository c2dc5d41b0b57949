"""One table of search keys: what the Python and the JavaScript key must both say."""

KEYS: list[tuple[str, str]] = [
    ("John  Smith", "john smith"),
    ("john smith", "john smith"),
    ("  John Smith  ", "john smith"),
    ("ＪＯＨＮ", "john"),  # fullwidth
    ("ＪＯＨＮ　Ｓｍｉｔｈ", "john smith"),  # fullwidth letters and ideographic space
    ("STRASSE", "strasse"),
    ("straße", "strasse"),
    ("ﬁnn", "finn"),  # the ligature
    ("John\tSmith", "john smith"),
    ("John\n\r\nSmith", "john smith"),
    ("John\u00a0Smith", "john smith"),  # no-break space
    ("John\u2003\u2009 Smith", "john smith"),  # em space, thin space, space
    ("John\u3000Smith", "john smith"),  # ideographic space
    ("Cafe\u0301", "café"),  # combining accent composed
    ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),  # final and medial sigma fold alike
    ("", ""),
    ("   ", ""),
    ("\t\n\u00a0\u3000", ""),
]
