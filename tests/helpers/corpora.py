"""Small corpora that tests write to files of their own."""

# A tiny Chinese -> English corpus: no spaces between Chinese words.
NOUNS = [
    ("猫", "cats"),
    ("狗", "dogs"),
    ("苹果", "apples"),
    ("茶", "tea"),
    ("咖啡", "coffee"),
    ("书", "books"),
    ("音乐", "music"),
    ("米饭", "rice"),
    ("面条", "noodles"),
    ("水果", "fruit"),
]
SUBJECTS = [("我", "I"), ("你", "You"), ("我们", "We"), ("他们", "They")]


def chinese_pairs():
    pairs = []
    for zh_s, en_s in SUBJECTS:
        for zh_n, en_n in NOUNS:
            pairs.append((f"{zh_s}喜欢{zh_n}。", f"{en_s} like {en_n}."))
            pairs.append((f"{zh_s}不喜欢{zh_n}，但是喜欢茶。", f"{en_s} don't like {en_n}, but like tea."))
            pairs.append((f"{zh_s}喜欢{zh_n}吗？", f"Do {en_s.lower() if en_s != 'I' else 'I'} like {en_n}?"))
    return pairs


def gettext_pairs(n=40):
    """English -> Brazilian Portuguese messages carrying the format codes real catalogs have (2n pairs)."""
    pairs = [(f"File {i} not found: %s", f"Arquivo {i} não encontrado: %s") for i in range(n)]
    pairs += [(f"(%d minutes left, try {i})", f"(%d minutos restantes, tentativa {i})") for i in range(n)]
    return pairs


def write_po_catalog(folder, pairs, language="pt_BR"):
    """``folder/demo.po``: one gettext catalog of ``(msgid, msgstr)`` pairs; returns ``folder``."""
    header = f'msgid ""\nmsgstr ""\n"Language: {language}\\n"\n'
    header += '"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
    body = "".join(f'msgid "{en}"\nmsgstr "{pt}"\n\n' for en, pt in pairs)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.po").write_text(header + body, encoding="utf-8")
    return folder
