"""The naming traditions of the regency's families, as data the name matcher reads (``names.py``).

Kutai Timur's villages hold Kutai, Banjar, Bugis, Dayak, Javanese, Balinese (transmigration areas such as Kaubun),
Buton, Toraja, Timorese and Chinese-Indonesian families. Each tradition puts words around the personal name that
say who the person is in the family, not which person it is: a Balinese birth-order name (``Made``: the second
child), a caste title (``Ida Bagus``), a Bugis noble title (``Andi``), a Buton sex marker (``La``/``Wa``), a
Christian baptismal name (``Yohanes``), a Makassar ``Daeng`` name, a Chinese name beside the Indonesian one. Forms
and registry records keep or drop those words and abbreviate them (``I Md.``, ``A.A.``, ``Y.``), so the matcher
compares the personal names and reads the other words by their rules: the same rank written two ways agrees, a word
missing on one side says nothing, two different ranks (``Wayan`` / ``Made``: siblings) are two people.
"""

from __future__ import annotations

# ------------------------------------------------------------------------------------------------- Balinese
# Birth order: 1 Wayan / Gede / Putu, 2 Made / Kadek / Nengah, 3 Nyoman / Komang, 4 Ketut (a fifth child starts again).
BIRTH_ORDER: dict[str, int] = {
    "wayan": 1, "gede": 1, "putu": 1,
    "made": 2, "kadek": 2, "nengah": 2,
    "nyoman": 3, "komang": 3,
    "ketut": 4,
}  # fmt: skip
# Abbreviations officials write for them (after old spelling and without dots).
BALINESE_ABBREVIATIONS: dict[str, str] = {
    "wy": "wayan", "wyn": "wayan", "gd": "gede", "pt": "putu", "ptu": "putu",
    "md": "made", "mde": "made", "kd": "kadek", "kdk": "kadek", "ngh": "nengah", "nengh": "nengah",
    "ny": "nyoman", "nym": "nyoman", "nyom": "nyoman", "km": "komang", "kmg": "komang", "kmng": "komang",
    "kt": "ketut", "ktt": "ketut", "ktut": "ketut",
    "ngr": "ngurah", "gst": "gusti", "gs": "gusti", "dsk": "desak", "dw": "dewa", "cok": "cokorda",
    "cokde": "cokorda", "tjok": "cokorda",
}  # fmt: skip
# Abbreviations of two words: ``IB`` Ida Bagus, ``IA`` Ida Ayu, ``AA`` / ``A.A.`` Anak Agung, ``IGN`` I Gusti Ngurah.
BALINESE_DOUBLE: dict[str, tuple[str, ...]] = {
    "ib": ("ida", "bagus"),
    "ia": ("ida", "ayu"),
    "aa": ("anak", "agung"),
    "agn": ("anak", "agung", "ngurah"),
    "ign": ("i", "gusti", "ngurah"),
    "igst": ("i", "gusti"),
}
# Caste titles (triwangsa), by the words that open them: the caste, and the sex where the title tells it.
CASTE_TITLES: dict[tuple[str, ...], tuple[str, str | None]] = {
    ("ida", "bagus"): ("brahmana", "M"),
    ("ida", "ayu"): ("brahmana", "F"),
    ("anak", "agung"): ("ksatria", None),
    ("cokorda",): ("ksatria", None),
    ("dewa", "ayu"): ("ksatria", "F"),
    ("dewa",): ("ksatria", "M"),
    ("desak",): ("ksatria", "F"),
    ("ngakan",): ("ksatria", "M"),
    ("gusti", "ayu"): ("wesia", "F"),
    ("gusti",): ("wesia", None),
}
# Words that follow a caste title as part of it (I Gusti Ngurah, Anak Agung Ayu, Ida Bagus Gede ...).
CASTE_PARTS = frozenset({"ngurah", "ayu", "bagus", "agung", "rai", "sagung"})
# Sex markers before a Balinese name: I (male), Ni (female, often Ni Luh).
BALINESE_SEX = {"i": "M", "ni": "F", "luh": "F"}

# ------------------------------------------------------------------------------------ Bugis, Makassar, Buton
# Sex markers before a name: Buton La (male) / Wa (female), La Ode / Wa Ode (noble); Bugis La (male) / We (female);
# Bugis-Makassar I (both sexes, so it tells nothing).
SEX_PREFIXES: dict[tuple[str, ...], str | None] = {
    ("la", "ode"): "M",
    ("wa", "ode"): "F",
    ("la",): "M",
    ("wa",): "F",
    ("we",): "F",
    ("i",): None,
}
# Noble and courtesy titles that a form may carry or drop: never a reason to tell two people apart.
OPTIONAL_TITLES = frozenset({"andi", "puang", "karaeng", "opu", "aji", "awang", "dayang", "raden", "mas", "gusti"})
# ``Daeng`` + one word is a Makassar/Bugis second name (paddaengang), written beside the given name or instead of it.
DAENG = frozenset({"daeng", "dg", "dng"})

# ------------------------------------------------------------------------------------------------ Christian
# Baptismal names written before the family's own name (Dayak, Toraja, Timorese, Batak, Flores families); forms often
# drop or abbreviate them (``Y. Lahang``, ``Fr. X. Lahang``). Canonical forms after old spelling (j -> y).
BAPTISMAL = frozenset(
    """
    yohanes yohannes yoanes yohana yohanna petrus paulus stefanus stevanus markus marcus yakobus yacobus antonius
    andreas matius mateus lukas tomas thomas filipus philipus bartolomeus simon yosef yoseph yosep yusup agustinus
    fransiskus fransiska xaverius aloysius alosius benediktus dominikus gregorius ignatius kornelius laurensius
    lorensius bernardus bernadus kristoforus emanuel immanuel gabriel rafael mikael mikhael stanislaus vinsensius
    yulius yustinus maria yuliana agustina elisabeth elisabet magdalena kristina katarina katharina theresia
    teresia veronika anastasia skolastika bernadeta bernadetta lidia margaretha margareta martha marta monika
    natalia regina rosalia sesilia yosefina paskalis paskalia hieronimus adrianus albertus
    """.split()
)
# Abbreviations of baptismal names as written on forms.
BAPTISMAL_ABBREVIATIONS: dict[str, str] = {
    "yoh": "yohanes", "ptr": "petrus", "fr": "fransiskus", "fx": "fransiskus", "ant": "antonius", "agst": "agustinus",
    "mar": "maria", "yos": "yosef", "bern": "bernardus",
}  # fmt: skip

# --------------------------------------------------------------------------------------------- Arabic-derived
# Abbreviations of Arabic-derived names; the Muhammad variants are in ``names.MUHAMMAD_VARIANTS``.
ARABIC_ABBREVIATIONS: dict[str, str] = {
    "abd": "abdul", "abdl": "abdul", "abdur": "abdul", "nor": "nur", "noor": "nur",
    "ach": "ahmad", "achm": "ahmad", "ahm": "ahmad", "akh": "ahmad",
}  # fmt: skip
# Word beginnings written two ways in Banjar and Malay spelling: NOR-HAYATI / NUR-HAYATI.
PREFIX_SPELLINGS = (("noor", "nur"), ("nor", "nur"))
# ``St.`` before a woman's name is Siti (Bugis ``ST. AISYAH``); only at the front and followed by a name.
FRONT_ABBREVIATIONS: dict[str, str] = {"st": "siti", "sti": "siti", "sitti": "siti"}

# ------------------------------------------------------------------------------------------------- aliases
# A second name beside the first: a Chinese name (``Budi Santoso alias Tan Kim Liong``, ``Budi (Tan Kim Liong)``),
# an old name, a nickname the village knows.
ALIAS_WORDS = frozenset({"alias", "als", "atau"})

# ------------------------------------------------------------------------------------------- known given names
# Common given names of the regency's families. Two words that look alike but are both known names are two names,
# not a typo (Rahmat / Rahman, Rina / Rini, Putra / Putri, Arifuddin / Haeruddin, Maria / Martha): what a careful
# officer knows and a letter count does not. A word outside this list is compared by letters only.
GIVEN_NAMES = frozenset(
    """
    abdullah abdul adi ade agus agung ahmad aisyah alimin ali amir amiruddin anang andi andika anto anwar arif
    arifin arifuddin arsyad arsad asep asmah asni asniar astuti ayu bahrun bakri bambang basri baso baco budi
    cahyo cahyono dani danu darmawan dedi dedy deni dewi dian dimas dina dini dodi dwi eka eko endang erna evi
    fajar fajri fahri fatimah fauzi fauziah firman fitri fitria gani gita gunawan hadi hafid halimah hamid
    hamzah hasan hasanah hasanuddin haeruddin hasna hasnawati hasmawati hendra hendri heri heru hidayat husain
    husen ida idris ilham imam iman indah indra irma irwan ismail iwan jamal jamaluddin jamilah joko juli
    junaid kadir karim khadijah kurnia lanny lina linda lisa lusi made mahmud maria marta martha masitah
    maryam meli mira muhammad mulyadi mulyono murni musdalifah mustafa nanda ninda nina nining nisa nur
    nurdin nurhayati nurjannah nurul putra putri rahma rahmah rahmat rahman rahmawati rahim ramli rani rina
    rini rizal rizki rudi rusdi rustam saleh said salim salma sahar saharuddin samsul sari sinta siti slamet
    sri suci sudirman sugeng suharto sukarno sukarni sulastri sumarni sumarno suparman suparmi suparti
    supriyadi susanti susanto sutrisno suwarno syamsuddin syamsul tahir teguh tri tuti wahyu wahyuni wati
    wawan widya wulan yanti yeni yenny yuda yudi yuli yulia yusuf zainal zainab zubaidah yohanes petrus
    paulus markus yakobus antonius stefanus fransiskus yuliana agustina elisabeth magdalena kristina
    sudiarta suardana artawan sukadana wirawan adnyana mahendra suarjana sukerti suryani ariani astiti
    suartini sriani martini hasrun rusdin sahidin salmah fatma aminah rukmini rohani roni rony ratna ratih
    ani ana anita anisa arief bayu dewa desi desy doni edi edy ella elly emi eni erik ferry feri gilang hana
    hani ika iin ina intan iis joni jono kiki lia lili lilis mega mimi nia nita novi oki rama ramli reni
    rita riri rosa rosita rudy santi sella sisi tini tina toni tono udin ujang umar usman wati yati yayuk
    yono yuni yusran zaini zulkifli
    """.split()
)
