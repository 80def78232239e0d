"""Held-out template variants for the `classify` bench of scan2dms.

The document type classifier is trained on deliveries made with the
generator's built-in variants only. The bench's test set is generated with
this file loaded (`make-deliveries --extra-templates`), so part of the test
documents use layouts and wordings the classifier has never seen. Every
variant here is named `heldout-...`; the bench reads the `template` field of
the truth to report seen and unseen variants apart.

One variant per document type and series (18). They reuse the generator's
building blocks (letterheads, closings, attachments) but deliberately vary
titles, phrasing and senders: a lawyer's objection, a reminder notice, a
change notice instead of a first assessment, a tenant's letter, ... Each
prints the record key through `ctx.key` and dates/amounts through `ctx.d()`,
`ctx.dl()` and `ctx.money()`, as the generator's README asks.
"""

from __future__ import annotations

import datetime as dt

from deliverygen.layout import TYPEFACES, Doc
from deliverygen.templates import DocContext, variant
from deliverygen.templates.common import (NOTES_BESCHEID, NOTES_PERSONAL, add_attachment,
                                          city_letter, city_letterhead, closing,
                                          continuation_header, dash_page_header, eingangsstempel,
                                          info_sheet, letterhead_block, page_of_footer,
                                          place_date_right, sender_block, subject_line,
                                          window_address)
from deliverygen.templates.personnel import before_hire, in_service, personnel_recipient
from deliverygen.templates.tax import (bescheid_label, kind_label, object_line, tax_date,
                                       yearly_tax)
from deliverygen.world import CITY, CITY_POBOX, FORMER_EMPLOYERS, TAX_KIND_LABEL

LAWYERS = [("Rechtsanwälte Dreyer & Kollegen", "Am Magnitor 6"),
           ("Kanzlei Dr. Hagemann", "Bankplatz 3"),
           ("Rechtsanwältin Ute Sievers", "Löwenwall 17")]


def _maybe_attachment(doc: Doc, ctx: DocContext, p: float = 0.35) -> None:
    if ctx.chance(p):
        add_attachment(doc, ctx)


def _lawyer_head(doc: Doc, ctx: DocContext) -> str:
    name, street = ctx.pick(LAWYERS)
    letterhead_block(doc, name, [f"{street} · {ctx.town_line('38100')}",
                                 f"Telefon (0531) {ctx.rng.randint(20000, 89999)}"],
                     font="liberation-serif", bold="liberation-serif-bold", align="right", size=13)
    return name


# ---------------------------------------------------------------------------
# personnel
# ---------------------------------------------------------------------------

@variant("bewerbung", "heldout-initiativbewerbung", weight=2)
def bewerbung_initiativ(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = before_hire(ctx, 30, 200)
    doc.set_face(ctx.face("letter"))
    sender_block(doc, ctx, p, y=16, right=True)
    doc.y = 48
    doc.lines(personnel_recipient(ctx))
    doc.y += 8
    doc.para(f"{ctx.dl()}", align="right")
    subject_line(doc, "Initiativbewerbung für den Verwaltungsdienst", space_before=2)
    doc.para("Sehr geehrte Damen und Herren,")
    doc.para(f"auch wenn derzeit keine passende Stelle ausgeschrieben ist, möchte ich mich bei Ihnen "
             f"vorstellen. Ich bin {ctx.date.year - p.birth.year} Jahre alt und suche eine Tätigkeit als "
             f"{ctx.emp.job}.", align="justify")
    doc.para("Meine bisherigen Stationen entnehmen Sie bitte dem beigefügten tabellarischen Werdegang. "
             "Gern stelle ich mich Ihnen persönlich vor.", align="justify")
    closing(doc, ctx, p, im_auftrag=False)
    doc.lines(["Anlagen: Werdegang, Zeugnisse, Lichtbild"], size=doc.face.size - 1)
    doc.new_page()
    doc.heading("Tabellarischer Werdegang", size=doc.face.size + 3, space_after=5)
    y0 = p.birth.year
    doc.table([[str(y0 + 16), "Mittlere Reife"],
               [f"{y0 + 16}–{y0 + 19}", "Ausbildung, Abschluss vor der Industrie- und Handelskammer"],
               [f"ab {y0 + 19}", f"Sachbearbeitung bei {ctx.pick(FORMER_EMPLOYERS)[0]}"]],
              [35, 125], border="none", header_fill=None)
    doc.space(6)
    doc.signature([p.full], place_date=f"Braunschweig, {ctx.d()}", line=False)
    eingangsstempel(doc, ctx, 160, 40, ctx.days(2, 6), unit="Personalamt")


@variant("arbeitsvertrag", "heldout-aushilfsvertrag", weight=2)
def arbeitsvertrag_aushilfe(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = ctx.emp.hired - dt.timedelta(days=ctx.rng.randint(5, 40))
    doc.set_face(ctx.face("letter"))
    city_letterhead(doc, ctx, ctx.personnel_office)
    doc.heading("Befristeter Arbeitsvertrag (Aushilfe)", size=doc.face.size + 3, space_after=4)
    doc.para(f"Die Stadt Braunschweig und {p.anrede} {p.full}, geb. {ctx.d(p.birth)}, "
             f"Personalnummer {ctx.key}, schließen folgenden Vertrag:", align="justify")
    end = ctx.emp.hired + dt.timedelta(days=ctx.rng.choice([90, 182, 365]))
    for i, text in enumerate([
        f"Die Einstellung erfolgt zur Aushilfe befristet für die Zeit vom {ctx.d(ctx.emp.hired)} bis "
        f"{ctx.d(end)}.",
        f"Die Tätigkeit umfasst die Aufgaben einer/eines {ctx.emp.job} beim {ctx.emp.dienststelle}.",
        f"Die Eingruppierung richtet sich nach {ctx.emp.grade}.",
        "Das Arbeitsverhältnis endet mit Ablauf der Frist, ohne dass es einer Kündigung bedarf.",
    ], 1):
        doc.para(text, indent=10, hanging=f"({i})", align="justify")
    doc.space(6)
    doc.lines([f"Braunschweig, {ctx.d()}"], space_after=2)
    doc.signature(["für die Stadt Braunschweig"], line=True)
    doc.signature([p.full], line=True)
    _maybe_attachment(doc, ctx)


@variant("ernennungsurkunde", "heldout-widerruf-urkunde", weight=2)
def urkunde_widerruf(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = ctx.emp.hired
    doc.set_face(TYPEFACES[ctx.pick(["times", "serif"])])
    doc.rect(18, 18, 192, 279, 0.8)
    doc.y = 45
    doc.heading("Ernennungsurkunde", size=24, align="center", space_after=16)
    doc.para("Die Stadt Braunschweig beruft", align="center")
    doc.heading(f"{p.g('Frau', 'Herrn')} {p.full}", size=16, align="center", space_after=6)
    doc.para("unter Berufung in das Beamtenverhältnis auf Widerruf", align="center")
    doc.para(f"zur {p.g('Stadtinspektoranwärterin', 'Stadtinspektoranwärter')}.", align="center",
             space_after=12)
    doc.para(f"Die Ernennung wird mit dem Tag der Aushändigung dieser Urkunde wirksam.",
             align="center", space_after=20)
    doc.para(f"Braunschweig, den {ctx.dl()}", align="center", space_after=14)
    doc.para(ctx.head_of_admin, align="center")
    doc.y = 262
    doc.para(f"Personalnummer {ctx.key}", size=8, align="center")
    _maybe_attachment(doc, ctx, 0.3)


@variant("zeugnis", "heldout-ausbildungszeugnis", weight=2)
def zeugnis_ausbildung(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = before_hire(ctx, 20, 400)
    emp = ctx.pick(FORMER_EMPLOYERS)
    doc.set_face(ctx.face("letter"))
    letterhead_block(doc, emp[0], [f"{emp[1]} · {ctx.town_line(emp[2], emp[3])}"], size=14)
    doc.y += 6
    doc.heading("Ausbildungszeugnis", size=doc.face.size + 5, align="center", space_after=6)
    start = ctx.date - dt.timedelta(days=3 * 365)
    doc.para(f"{p.g('Frau', 'Herr')} {p.full}, geboren am {ctx.d(p.birth)} in {p.birth_place}, wurde vom "
             f"{ctx.d(start)} bis zum {ctx.d()} in unserem Hause ausgebildet.", align="justify")
    doc.para(f"{p.g('Sie', 'Er')} zeigte stets großes Interesse, arbeitete selbständig und sorgfältig und "
             f"erledigte alle übertragenen Aufgaben zu unserer {ctx.pick(['vollsten', 'vollen', ''])} "
             f"Zufriedenheit. Das Verhalten gegenüber Vorgesetzten und Kollegen war einwandfrei.",
             align="justify")
    doc.para(f"Die Abschlussprüfung hat {p.g('sie', 'er')} mit der Note "
             f"„{ctx.pick(['gut', 'befriedigend', 'sehr gut'])}“ bestanden. Wir wünschen "
             f"{p.g('ihr', 'ihm')} für die Zukunft alles Gute.", align="justify")
    doc.space(8)
    doc.signature(["Ausbildungsleitung"], place_date=f"{emp[3]}, {ctx.d()}", line=False)
    if ctx.chance(0.5):
        eingangsstempel(doc, ctx, 160, 240, ctx.date + dt.timedelta(days=300), unit="Personalamt",
                        extra=ctx.key)


@variant("beurteilung", "heldout-leistungsbericht", weight=2)
def beurteilung_bericht(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = in_service(ctx, 200)
    doc.set_face(TYPEFACES[ctx.pick(["dejavu", "arial"])])
    doc.y = 15
    doc.lines([CITY, ctx.emp.dienststelle], size=9, space_after=8)
    doc.heading("Leistungsbericht", size=15, space_after=2)
    doc.para(f"über {p.g('die Mitarbeiterin', 'den Mitarbeiter')} {p.full} ({ctx.key})", space_after=5)
    doc.table([["Merkmal", "Bewertung"],
               ["Arbeitsmenge", ctx.pick(["A", "B", "C"])],
               ["Arbeitsgüte", ctx.pick(["A", "B", "C"])],
               ["Zusammenarbeit", ctx.pick(["A", "B", "C"])],
               ["Fachkenntnisse", ctx.pick(["A", "B", "C"])]], [90, 40], aligns="lc")
    doc.para("Bewertungsstufen: A = übertrifft die Anforderungen, B = entspricht den Anforderungen, "
             "C = entspricht den Anforderungen mit Einschränkungen.", size=doc.face.size - 1.5)
    doc.para(f"Gesamturteil: {ctx.pick(['übertrifft die Anforderungen', 'entspricht voll den Anforderungen'])}",
             bold=True)
    doc.space(6)
    doc.signature(["Dienstvorgesetzte/r"], place_date=f"Braunschweig, {ctx.d()}", line=True)
    doc.para("Mit der/dem Beurteilten besprochen.", size=8)
    _maybe_attachment(doc, ctx)


@variant("fortbildung", "heldout-seminarbestaetigung", weight=2)
def fortbildung_seminar(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = in_service(ctx, 60)
    doc.set_face(ctx.face("letter"))
    letterhead_block(doc, "Kommunale Verwaltungsakademie Ostfalen",
                     ["Lehrgangsbüro · Am Alten Bahnhof 9 · " + ctx.town_line("38122")], logo="KV")
    doc.y += 4
    window_address(doc, ctx, "", [p.anrede, p.full, f"c/o {CITY}", ctx.emp.dienststelle], y=doc.y)
    doc.y += 6
    place_date_right(doc, ctx)
    subject_line(doc, "Anmeldebestätigung zum Seminar", space_before=2)
    start = ctx.days(20, 60)
    doc.para(f"{p.salutation} wir bestätigen Ihre Anmeldung zum Seminar "
             f"„{ctx.pick(['Bürgerorientierte Kommunikation', 'Haushaltsrecht kompakt', 'Zeitmanagement'])}“ "
             f"vom {ctx.d(start)} bis {ctx.d(start + dt.timedelta(days=2))}. Die Kosten von "
             f"{ctx.money(ctx.amount(380))} trägt Ihre Dienststelle (Pers.-Nr. {ctx.key}).",
             align="justify")
    doc.para("Die Unterlagen erhalten Sie zu Beginn der Veranstaltung.")
    closing(doc, ctx, None, role="Lehrgangsbüro", im_auftrag=False)
    _maybe_attachment(doc, ctx)


@variant("krankmeldung", "heldout-wiedereingliederung", weight=2)
def krank_wiedereingliederung(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = in_service(ctx, 120)
    doc.set_face(TYPEFACES["dejavu"])
    doc.y = 14
    doc.heading("Ärztliche Bescheinigung zur stufenweisen Wiedereingliederung", size=12, space_after=4)
    doc.fields([("Patient/in:", f"{p.full}, geb. {ctx.d(p.birth)}"), ("Arbeitgeber:", CITY),
                ("Personalnummer:", ctx.key),
                ("arbeitsunfähig seit:", ctx.d(ctx.date - dt.timedelta(days=ctx.rng.randint(40, 120))))],
               label_w=45, space_after=4)
    doc.table([["Zeitraum", "tägliche Arbeitszeit"],
               [f"ab {ctx.d(ctx.days(3, 7))}", "3 Stunden"],
               [f"ab {ctx.d(ctx.days(17, 21))}", "5 Stunden"],
               [f"ab {ctx.d(ctx.days(31, 35))}", "volle Arbeitszeit"]], [70, 60])
    doc.para("Während der Wiedereingliederung besteht weiterhin Arbeitsunfähigkeit.", size=9)
    doc.space(6)
    doc.signature(["Arztstempel / Unterschrift"], place_date=f"Braunschweig, {ctx.d()}", line=True)


@variant("urlaubsantrag", "heldout-elternzeit", weight=2)
def urlaub_elternzeit(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = in_service(ctx, 200)
    doc.set_face(ctx.face("letter"))
    sender_block(doc, ctx, p, y=16, extra=[f"Personalnummer {ctx.key}"])
    doc.y = 52
    doc.lines(personnel_recipient(ctx))
    doc.y += 6
    place_date_right(doc, ctx)
    start = ctx.days(30, 90)
    subject_line(doc, ctx.pick(["Antrag auf unbezahlten Urlaub", "Antrag auf Elternzeit"]), space_before=2)
    doc.para("Sehr geehrte Damen und Herren,")
    doc.para(f"hiermit beantrage ich Urlaub ohne Fortzahlung der Bezüge für die Zeit vom {ctx.d(start)} "
             f"bis zum {ctx.d(start + dt.timedelta(days=ctx.rng.randint(60, 365)))}. Grund ist die Betreuung "
             f"meines Kindes.", align="justify")
    doc.para("Ich bitte um eine schriftliche Bestätigung.")
    closing(doc, ctx, p, im_auftrag=False)
    eingangsstempel(doc, ctx, 160, 60, ctx.days(1, 4), unit="Personalamt")
    _maybe_attachment(doc, ctx)


@variant("gehaltsmitteilung", "heldout-jahressonderzahlung", weight=2)
def gehalt_sonderzahlung(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = in_service(ctx, 200).replace(month=11, day=ctx.rng.randint(10, 25))
    doc.set_face(ctx.face("edv"))
    doc.y = 14
    doc.lines([f"{CITY.upper()} - BEZÜGESTELLE", f"DRUCKDATUM {ctx.d()}"], space_after=6)
    doc.lines([p.full.upper()] + [ln.upper() for ln in p.address.lines(ctx.date)], space_after=6)
    doc.heading(f"MITTEILUNG ÜBER DIE JAHRESSONDERZAHLUNG {ctx.date.year}", size=doc.face.size + 1)
    brutto = ctx.amount(ctx.rng.uniform(1800, 3600))
    doc.table([["PERSONALNUMMER", ctx.key], ["BEMESSUNGSGRUNDLAGE", ctx.money(brutto)],
               ["PROZENTSATZ", ctx.pick(["82,14 %", "90 %", "60 %"])],
               ["SONDERZAHLUNG BRUTTO", ctx.money(round(brutto * 0.82, 2))]], [90, 50], aligns="lr",
              border="none", header_fill=None)
    doc.para("DIE ZAHLUNG ERFOLGT MIT DEN BEZÜGEN FÜR NOVEMBER.")


@variant("schriftverkehr", "heldout-personalrat-schreiben", series="personnel", weight=2)
def sv_personalrat(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = in_service(ctx, 60)
    doc.set_face(ctx.face("letter"))
    doc.y = 14
    doc.heading("Personalrat der Stadt Braunschweig", size=13, space_after=1)
    doc.para("Geschäftsstelle · Rathaus Neubau", size=8, space_after=8)
    doc.lines(["An", ctx.personnel_office, "im Hause"], space_after=6)
    place_date_right(doc, ctx)
    subject_line(doc, f"Beteiligung – {p.g('Frau', 'Herr')} {p.sortname}, Pers.-Nr. {ctx.key}",
                 space_before=2)
    doc.para(ctx.pick([
        "der Personalrat hat in seiner Sitzung der beabsichtigten Maßnahme zugestimmt.",
        "der Personalrat bittet um weitere Unterlagen, bevor er über die Maßnahme beschließen kann.",
        "gegen die geplante Umsetzung werden keine Bedenken erhoben.",
    ]), align="justify")
    doc.space(6)
    doc.signature(["Vorsitzende/r des Personalrats"], line=False)
    _maybe_attachment(doc, ctx)


# ---------------------------------------------------------------------------
# tax
# ---------------------------------------------------------------------------

@variant("steuerbescheid", "heldout-aenderungsbescheid", weight=2)
def bescheid_aenderung(doc: Doc, ctx: DocContext) -> None:
    ctx.date = tax_date(ctx, 400)
    doc.set_face(ctx.face("letter"))
    doc.footer = page_of_footer()
    label = bescheid_label(ctx)
    clerk = city_letter(doc, ctx, office=ctx.tax_office,
                        subject=f"Änderungsbescheid – {label} ab {ctx.date.year}",
                        refs=[("Kassenzeichen", ctx.key)])
    old = yearly_tax(ctx)
    new = round(old * ctx.rng.uniform(1.05, 1.3), 2)
    doc.para(f"der Bescheid über die {kind_label(ctx)} für {object_line(ctx)} wird wie folgt geändert:",
             align="justify")
    doc.table([["", "bisher", "neu"], ["Jahresbetrag", ctx.money(old), ctx.money(new)],
               ["Unterschied", "", ctx.money(round(new - old, 2))]], [60, 45, 45], aligns="lrr")
    doc.para("Die Nachzahlung ist innerhalb eines Monats nach Bekanntgabe dieses Bescheides fällig.")
    doc.para("Gegen diesen Änderungsbescheid kann innerhalb eines Monats Widerspruch erhoben werden.",
             size=doc.face.size - 1)
    closing(doc, ctx, clerk)
    if ctx.chance(0.4):
        info_sheet(doc, "Erläuterungen", ctx.rng.sample(NOTES_BESCHEID, 3), size=doc.face.size - 1)


@variant("messbescheid", "heldout-einheitswert", weight=2)
def messbescheid_einheitswert(doc: Doc, ctx: DocContext) -> None:
    ctx.date = tax_date(ctx, 100)
    doc.set_face(ctx.face("edv"))
    doc.y = 14
    doc.lines(["FINANZAMT BRAUNSCHWEIG-ALTEWIEKRING", "BEWERTUNGSSTELLE"], space_after=8)
    doc.lines([ln.upper() for ln in ctx.address_lines()], space_after=6)
    doc.lines([f"DATUM {ctx.d()}", f"KASSENZEICHEN DER GEMEINDE {ctx.key}"], space_after=4)
    doc.heading("BESCHEID ÜBER DEN EINHEITSWERT UND DEN GRUNDSTEUERMESSBETRAG", size=doc.face.size + 0.5)
    ew = ctx.amount(ctx.rng.uniform(30000, 250000))
    doc.table([["GRUNDSTÜCK", object_line(ctx).upper()], ["EINHEITSWERT", ctx.money(ew)],
               ["STEUERMESSZAHL", "3,5 V.T."], ["GRUNDSTEUERMESSBETRAG", ctx.money(round(ew * 0.0035, 2))]],
              [70, 90], border="none", header_fill=None)
    doc.para("DIE GEMEINDE SETZT AUF GRUNDLAGE DIESES MESSBETRAGS DIE GRUNDSTEUER FEST.")


@variant("steuererklaerung", "heldout-hundeanmeldung", weight=2)
def erklaerung_hund(doc: Doc, ctx: DocContext) -> None:
    p = ctx.person
    ctx.date = tax_date(ctx, 30)
    doc.set_face(TYPEFACES[ctx.pick(["dejavu", "arial", "condensed"])])
    doc.y = 14
    doc.lines([CITY, ctx.tax_office], size=9, space_after=6)
    doc.heading(ctx.pick(["Anmeldung zur Hundesteuer", "Erklärung zur Hundehaltung"]), size=14, space_after=4)
    doc.fields([("Kassenzeichen", ctx.key), ("Halter/in", p.full),
                ("Anschrift", ", ".join(p.address.lines(ctx.date))),
                ("Anzahl der Hunde", str(ctx.tax.dogs)),
                ("Rasse", ctx.pick(["Mischling", "Dackel", "Schäferhund", "Labrador"])),
                ("gehalten seit", ctx.d(ctx.date - dt.timedelta(days=ctx.rng.randint(3, 30))))],
               label_w=50, dotted=True, space_after=6)
    doc.para("Ich versichere, die Angaben wahrheitsgemäß gemacht zu haben.")
    doc.space(4)
    doc.signature(["Unterschrift"], place_date=f"Braunschweig, {ctx.d()}")
    eingangsstempel(doc, ctx, 160, 30, ctx.days(1, 5), unit="Steueramt")


@variant("widerspruch", "heldout-anwaltsschreiben", weight=2)
def widerspruch_anwalt(doc: Doc, ctx: DocContext) -> None:
    ctx.date = tax_date(ctx, 120)
    doc.set_face(ctx.face("letter"))
    doc.on_new_page = continuation_header(dash_page_header)
    _lawyer_head(doc, ctx)
    doc.y = max(doc.y, 48)
    doc.lines([CITY, ctx.tax_office, CITY_POBOX[0], ctx.town_line(CITY_POBOX[1])])
    doc.y += 6
    place_date_right(doc, ctx)
    bescheid = ctx.date - dt.timedelta(days=ctx.rng.randint(10, 28))
    subject_line(doc, f"{ctx.subject.full} – Kassenzeichen {ctx.key}", space_before=2)
    doc.para("Sehr geehrte Damen und Herren,")
    doc.para(f"namens und in Vollmacht unserer Mandantschaft legen wir gegen Ihren Bescheid vom "
             f"{ctx.d(bescheid)} über {kind_label(ctx)} Widerspruch ein. Eine Begründung reichen wir "
             f"nach Akteneinsicht nach.", align="justify")
    doc.para("Zugleich beantragen wir, die Vollziehung bis zur Entscheidung auszusetzen.", align="justify")
    closing(doc, ctx, None, role="Rechtsanwalt/Rechtsanwältin", im_auftrag=False)
    _maybe_attachment(doc, ctx)


@variant("stundungsantrag", "heldout-ratenzahlung-mail", weight=2)
def stundung_raten(doc: Doc, ctx: DocContext) -> None:
    ctx.date = tax_date(ctx, 120)
    doc.set_face(TYPEFACES[ctx.pick(["arial", "dejavu"])])
    doc.y = 14
    doc.fields([("Von:", ctx.person.full), ("An:", "steueramt@braunschweig.de"),
                ("Datum:", ctx.d()), ("Betreff:", f"Bitte um Ratenzahlung – {ctx.key}")],
               label_w=22, space_after=4)
    doc.rule()
    doc.para("Sehr geehrte Damen und Herren,")
    amount = ctx.money(ctx.amount(ctx.rng.uniform(300, 4000)))
    doc.para(f"wegen einer vorübergehenden finanziellen Notlage kann ich den fälligen Betrag von {amount} "
             f"({kind_label(ctx)}) nicht auf einmal zahlen. Ich bitte darum, mir monatliche Raten von "
             f"{ctx.money(ctx.amount(ctx.rng.choice([50, 100, 150])))} zu gewähren und die Forderung "
             f"bis dahin zu stunden.", align="justify")
    doc.para("Mit freundlichen Grüßen")
    doc.para(ctx.person.full)
    eingangsstempel(doc, ctx, 160, 120, ctx.days(1, 3), unit="Steueramt", extra="ausgedruckt")
    _maybe_attachment(doc, ctx)


@variant("mahnung", "heldout-letzte-mahnung", weight=2)
def mahnung_letzte(doc: Doc, ctx: DocContext) -> None:
    ctx.date = tax_date(ctx, 100)
    doc.set_face(ctx.face("letter"))
    clerk = city_letter(doc, ctx, office="Stadtkasse", subject="Letzte Mahnung vor Einleitung der Vollstreckung",
                        refs=[("Kassenzeichen", ctx.key)])
    due = ctx.date - dt.timedelta(days=ctx.rng.randint(20, 70))
    owed = ctx.amount(ctx.rng.uniform(80, 1500))
    doc.para(f"trotz unserer Zahlungserinnerung ist die {kind_label(ctx)}, fällig am {ctx.d(due)}, noch "
             f"nicht bezahlt. Rückständig sind:", align="justify")
    doc.table([["Rückstand", ctx.money(owed)], ["Säumniszuschläge", ctx.money(round(owed * 0.02, 2))],
               ["Mahngebühr", ctx.money(ctx.amount(5.0))]], [100, 45], aligns="lr", border="rules")
    doc.para(f"Zahlen Sie bitte bis zum {ctx.d(ctx.days(7, 14))}. Andernfalls wird die Forderung ohne "
             f"weitere Ankündigung zwangsweise beigetrieben.", align="justify")
    closing(doc, ctx, clerk)
    _maybe_attachment(doc, ctx)


@variant("schriftverkehr", "heldout-mieter-schreiben", series="tax", weight=2)
def sv_mieter(doc: Doc, ctx: DocContext) -> None:
    ctx.date = tax_date(ctx, 60)
    doc.set_face(ctx.face("letter"))
    p = ctx.person
    sender_block(doc, ctx, p, y=18)
    doc.y = 50
    doc.lines([CITY, ctx.tax_office, CITY_POBOX[0], ctx.town_line(CITY_POBOX[1])])
    doc.y += 6
    place_date_right(doc, ctx)
    subject_line(doc, f"Kassenzeichen {ctx.key} – neue Anschrift", space_before=2)
    doc.para("Sehr geehrte Damen und Herren,")
    doc.para(ctx.pick([
        "ich bin umgezogen und bitte, künftige Schreiben an die oben genannte Anschrift zu senden.",
        "bitte senden Sie mir eine Kopie meines letzten Kontoauszugs der Stadtkasse zu.",
        "ich bitte um Auskunft, welche Beträge für das laufende Jahr noch offen sind.",
    ]), align="justify")
    closing(doc, ctx, p, im_auftrag=False)


@variant("deckblatt", "heldout-aktenvorblatt", series=("personnel", "tax"), weight=2)
def cover_vorblatt(doc: Doc, ctx: DocContext) -> None:
    ctx.date = ctx.record.start
    r = ctx.record
    doc.set_face(TYPEFACES[ctx.pick(["arial", "condensed", "typewriter"])])
    doc.y = 30
    title = "Personalakte" if r.series == "personnel" else "Steuerakte"
    doc.heading(f"Aktenvorblatt {title}", size=20, space_after=10)
    if r.series == "personnel":
        rows = [("Aktenzeichen", ctx.key), ("Name", r.subject.sortname),
                ("Dienststelle", r.employment.dienststelle), ("Beginn", ctx.d(r.employment.hired))]
    else:
        rows = [("Aktenzeichen", ctx.key), ("Steuerpflichtig", r.subject.full),
                ("Steuerart", TAX_KIND_LABEL[r.taxcase.kind]), ("Beginn", ctx.d(r.taxcase.opened))]
    doc.fields(rows, label_w=50, size=13, leading=1.7)
    doc.y = 200
    doc.para("Inhalt bitte chronologisch abheften. Entnahme nur gegen Vermerk.", size=9)
    doc.para(f"Archivkarton {r.box_id}", size=9)
