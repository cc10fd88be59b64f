"""Word lists for demo data: English and Spanish names, and what staff write."""

FIRST_NAMES_EN = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William "
    "Barbara Richard Susan Joseph Jessica Thomas Sarah Christopher Karen Daniel "
    "Lisa Matthew Nancy Anthony Betty Mark Sandra Steven Ashley Andrew Emily Joshua "
    "Michelle Kevin Amanda Brian Melissa George Stephanie Timothy Rebecca Ryan "
    "Laura Jacob Olivia Ethan Chloe Noah Grace Liam Hannah Owen Megan Tyler Rachel "
    "Nathan Abigail"
).split()
LAST_NAMES_EN = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas "
    "Moore Jackson Martin Lee Thompson White Harris Clark Lewis Robinson Walker "
    "Young Allen King Wright Scott Green Baker Adams Nelson Hill Campbell Mitchell "
    "Roberts Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris "
    "Murphy Cook Rogers Morgan Cooper Peterson Bailey Reed Kelly Howard Bennett "
    "Brooks Sanders Price"
).split()
FIRST_NAMES_ES = (
    "María José Juan Ana Luis Carmen Carlos Laura Javier Lucía Miguel Sofía "
    "Alejandro Isabel Diego Marta Fernando Elena Pablo Paula Jorge Valentina Andrés "
    "Camila Ricardo Daniela Raúl Gabriela Manuel Adriana Sergio Natalia Francisco "
    "Verónica Antonio Mariana Eduardo Patricia Roberto Ximena Alberto Rocío Héctor "
    "Beatriz Ignacio Inés Joaquín Pilar Emilio Lorena Tomás Julia Mateo Renata "
    "Santiago Guadalupe"
).split()
LAST_NAMES_ES = (
    "García Rodríguez Martínez Hernández López González Pérez Sánchez Ramírez "
    "Torres Flores Rivera Gómez Díaz Cruz Morales Reyes Gutiérrez Ortiz Ramos "
    "Jiménez Ruiz Álvarez Castillo Romero Vargas Mendoza Herrera Medina Aguilar "
    "Castro Vázquez Moreno Muñoz Rojas Navarro Domínguez Gil Serrano Molina Delgado "
    "Suárez Ortega Guerrero Santos Cabrera Campos Vega Fuentes Carrasco Peña León "
    "Márquez Soto"
).split()

STREETS = (
    "Main St",
    "Oak Ave",
    "Maple Dr",
    "Cedar Ln",
    "Park Ave",
    "Elm St",
    "Washington Blvd",
    "Ocean Dr",
    "Sunset Blvd",
    "Calle Ocho",
    "Lake Shore Dr",
    "Broadway",
)
CITIES = (
    "New York, NY 10001",
    "Miami, FL 33130",
    "Los Angeles, CA 90028",
    "Austin, TX 78701",
    "Chicago, IL 60611",
    "San Francisco, CA 94110",
    "Houston, TX 77002",
)

EMAIL_DOMAINS = ("example.com", "example.org", "example.net", "mail.example.com")

# US area codes whose numbers phonenumbers accepts with any 2xx-9xx exchange.
AREA_CODES = (
    212, 213, 305, 310, 312, 323, 347, 404, 415, 469,
    512, 602, 617, 646, 702, 713, 718, 786, 818, 917,
)  # fmt: skip

TAGS = {
    "VIP": "#d4af37",
    "Athlete": "#1abc9c",
    "Corporate": "#34495e",
    "Referral": "#9b59b6",
    "Instagram": "#e1306c",
    "Google": "#4285f4",
    "Newsletter": "#f39c12",
    "Chronic pain": "#c0392b",
    "Post-surgery": "#e67e22",
    "Student": "#27ae60",
}

MEDICAL_HISTORY = (
    "Mild asthma, controlled with an inhaler.",
    "Knee surgery (ACL) two years ago.",
    "Lower back pain since a car accident.",
    "Type 2 diabetes, diet-controlled.",
    "Migraines, about once a month.",
    "Fibromyalgia.",
    "Hipotiroidismo en tratamiento.",
    "Tendinitis en el hombro derecho.",
)
ALLERGIES = ("Latex", "Penicillin", "Nuts", "Lavender oil", "Polen", "Ibuprofeno")

FEEDBACK = {
    5: ("Amazing, I feel brand new!", "Excelente atención, volveré.", "Best session."),
    4: ("Very good, a little wait at the desk.", "Muy bien, gracias."),
    3: ("OK, the room was cold before the session.", "Normal."),
    2: ("Started 15 minutes late.", "No me explicaron bien el proceso."),
    1: ("Not for me, felt dizzy afterwards.",),
}
APPOINTMENT_NOTES = (
    "Prefers the late-afternoon slots.",
    "First time: explained the safety rules.",
    "Asked about the monthly membership.",
    "Prefiere que le hablen en español.",
    "Bring extra socks next time.",
    "Felt light-headed, rested 10 minutes after.",
)
CLIENT_NOTES = (
    "Referred by her physiotherapist; wants help with recovery after a marathon.",
    "Prefers WhatsApp over calls.",
    "Interested in the Pain and Inflammation package; call back next month.",
    "Paga siempre en efectivo.",
    "Complained about the parking; offered a free session.",
    "Corporate client: invoices go to the company address.",
    "Nervous about cryotherapy; start with short sessions.",
)
INTERACTIONS = (
    ("call", "phone", "Asked about package prices"),
    ("message", "whatsapp", "Reminder about tomorrow's session"),
    ("message", "sms", "Rescheduled an appointment"),
    ("message", "email", "Sent the preparation instructions"),
    ("meeting", "in_person", "Consultation before the first session"),
    ("complaint", "phone", "Waited too long at reception"),
    ("other", "social", "Question on Instagram about red light therapy"),
)
REFERRAL_WORDS = ("friend", "colleague", "sister", "brother", "partner")
