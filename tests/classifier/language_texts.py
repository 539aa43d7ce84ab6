"""Invented posts for language detection (issue 17, item 4): plain sentences in the languages a
brand's mentions arrive in, and English that a detector could take for something else. Used by
tests/classifier/test_language.py and bench/language_detect.py."""

from __future__ import annotations

FOREIGN: list[tuple[str, str]] = [
    ("de", "Meine Bestellung ist seit zwei Wochen nicht angekommen und keiner antwortet mir."),
    ("de", "@acme das ist schon das dritte Mal, dass die App abstürzt. Echt ärgerlich!"),
    ("de", "Warum wurde mir der Betrag doppelt abgebucht? Ich will mein Geld zurück."),
    ("de", "Der Router blinkt seit gestern Abend rot, kein Internet im ganzen Haus"),
    ("es", "Mi pedido nunca llegó y nadie me responde. Qué vergüenza de servicio."),
    ("es", "@acme llevo tres semanas esperando el reembolso, ¿alguien me puede ayudar?"),
    ("es", "La aplicación se cierra sola cada vez que intento pagar con la tarjeta."),
    ("es", "Otra vez sin luz en el barrio y la atención al cliente no contesta"),
    ("fr", "Ma commande n'est jamais arrivée et personne ne répond au service client."),
    ("fr", "@acme ça fait trois fois que l'appli plante, c'est inadmissible."),
    ("fr", "J'attends toujours mon remboursement depuis le mois dernier."),
    ("fr", "Colis marqué livré mais je n'ai rien reçu, merci de me rappeler"),
    ("pt", "Meu pedido nunca chegou e ninguém responde. Que serviço horrível!"),
    ("pt", "@acme já é a terceira vez que o aplicativo trava na hora de pagar."),
    ("pt", "Ainda estou esperando o reembolso, já faz três semanas."),
    ("pt", "Comprei o fone novo e ele veio sem o carregador, quero trocar"),
    ("ja", "注文した商品がまだ届きません。サポートに連絡しても返事がありません。"),
    ("ja", "@acme アプリがまた落ちました。いい加減にしてください。"),
    ("ja", "返金はいつになりますか？もう三週間待っています。"),  # noqa: RUF001 (Japanese punctuation)
    ("ja", "荷物が届かない"),
    ("es", "Mi pedido todavía no llegó"),
    ("de", "Paket ist kaputt angekommen"),
    ("fr", "Je n'ai toujours rien reçu"),
    ("pt", "Cadê meu pedido? Já faz uma semana"),
]
"""(language, text): each must be detected as its language."""

ENGLISH: list[str] = [
    "@acme my order never arrived and nobody answers",
    "still waiting on my refund from @AcmeCorp, 3 weeks now",
    "lol @acme app crashed again smh",
    "ngl the acme app is mid",
    "yo @acme where my package at",
    "tbh idk whats going on w/ acme rn",
    "why is the acme app in german now?",
    "is there a reason none of the discount codes work on your site?",
    "haven't had the confirmation email yet",
    "delivery window was 8-12, it's 6pm and nothing",
    "Ordered the Señorita tacos from Acme, they were cold",
    "my Volkswagen Tiguan infotainment keeps rebooting @acme",
    "Bonjour from Paris! The Acme store on the Champs-Élysées was great",
    "100% done with @acme customer service",
    "iPhone 15 Pro Max + Acme Buds = no sound",
    "@acme #fail #neveragain #AcmeSucks",
    "RT @acme: Big sale today",
    "Acme Fahrvergnügen edition still not shipped?? ordered in march",
    "my Müller yogurt from acme was mouldy",
    "ACME WHERE IS MY ORDER",
    "thx 4 nothing @acme",
    "u guys srsly need 2 fix ur app",
    "omgggg acme plsssss",
    "Amazon, eBay and Acme all out of stock, ugh",
    "gracias for nothing @acme, still broken",
    "@acme thanks so much, that was quick!",
    "@acme THANK YOU SO MUCH!!! you saved my trip",
    "OMG IM SO DONE WITH THIS @acme",
    "WIN A NEW PHONE TODAY #acme #giveaway #win #free https://acme.com/win",
    "love you guys, best bae ever #AcmeLove #JetSet",
    "@acme im still on hold... 45 min",
    "whats order 5521 status, lax - jfk ??",
    "@acme dropped my call 3x in the past hour",
]
"""Posts in English that must never be given another language (None is fine)."""

TOO_SHORT: list[str] = [
    "wtf acme",
    "😡😡😡",
    "👍",
    "ok",
    "acme pls fix",
    "@acme https://acme.com/orders/12345",
    "@acme @support @AcmeHelp",
    "https://x.com/dana/status/1 https://acme.com/help/article-4411",
    "🙄🙄 @acme",
]
"""Too little text to tell: no language at all."""
