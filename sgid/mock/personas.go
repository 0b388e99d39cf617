package mock

import (
	"maps"
	"sort"
)

// Persona is a made-up person the provider can log in.
type Persona struct {
	// Sub is the pairwise subject identifier put into ID tokens and userinfo
	// answers. The default personas use the prefix "sgidtest:" so that they
	// can never collide with the subjects of real sgID users; the prefix is
	// older than this package and is kept so that data an application
	// stored against the mock's users stays theirs.
	Sub string
	// Label is a short description shown on the login page, such as
	// "Citizen with a vehicle".
	Label string
	// Data maps a scope to its value exactly as sgID delivers it: always a
	// string, with arrays and objects as JSON text and "NA" where a value
	// does not apply.
	Data map[string]string
}

// Name returns the persona's myinfo.name, or its Sub when it has no name, so
// that the login page always has something to show.
func (p Persona) Name() string {
	if n := p.Data["myinfo.name"]; n != "" {
		return n
	}
	return p.Sub
}

// clone deep-copies the persona so that callers can never mutate the
// provider's copy (which would race with request handlers).
func (p Persona) clone() Persona {
	p.Data = maps.Clone(p.Data)
	return p
}

func clonePersonas(ps []Persona) []Persona {
	out := make([]Persona, len(ps))
	for i, p := range ps {
		out[i] = p.clone()
	}
	return out
}

// DefaultPersonas returns the built-in made-up people. Every call returns a
// fresh copy, so callers may modify the result.
//
// All names, numbers and addresses are invented. The NRIC-like identifiers
// deliberately carry a wrong check letter, so they cannot belong to a real
// person, and the addresses use the unused postal district 00. Between them
// the personas cover a non-ASCII name, JSON-valued fields, partial dates of
// birth (1984, 1990, 1990-05, 1991-07), the literal "NA", a persona with
// nothing but a name (what clients outside the public sector get), FIN
// holders (G and M series), children's birth records, and
// pocdex.public_officer_details for an officer with one job, an officer
// with three jobs in two agencies, and two people who are not officers:
// "[]" (what sgID's relying parties expect) and "NA" (what mockpass sends).
//
// The personas are only ever appended to: tests elsewhere log in as a
// persona by its index and check its data.
func DefaultPersonas() []Persona {
	return []Persona{
		{
			Sub:   "sgidtest:tan-wei-ming",
			Label: "Citizen with a vehicle",
			Data: map[string]string{
				"myinfo.name":                            "TAN WEI MING (陈伟明)",
				"myinfo.nric_number":                     "T0000001A",
				"myinfo.email":                           "tan.weiming@example.com",
				"myinfo.mobile_number":                   "80000001",
				"myinfo.mobile_number_with_country_code": "+6580000001",
				"myinfo.date_of_birth":                   "1986-04-12",
				"myinfo.registered_address":              "BLK 101 EXAMPLE AVENUE 1\n#05-123\nSINGAPORE 000101",
				"myinfo.sex":                             "MALE",
				"myinfo.race":                            "CHINESE",
				"myinfo.nationality":                     "SINGAPORE CITIZEN",
				"myinfo.residentialstatus":               "CITIZEN",
				"myinfo.birth_country":                   "SINGAPORE",
				"myinfo.housingtype":                     "NA",
				"myinfo.hdbtype":                         "4-ROOM FLAT (HDB)",
				"myinfo.marital_status":                  "MARRIED",
				"myinfo.vehicles":                        `[{"vehicle_number":"SZZ1234X","make":"TOYOTA","model":"COROLLA ALTIS","type":"PASSENGER MOTOR CAR","status":"LIVE","coe_expiry_date":"2031-06-30"}]`,
			},
		},
		{
			Sub:   "sgidtest:nur-aisyah",
			Label: "Public officer and parent with child records",
			Data: map[string]string{
				"myinfo.name":                            "NUR AISYAH BINTE RAHMAT",
				"myinfo.nric_number":                     "T0000002A",
				"myinfo.email":                           "nur.aisyah@example.org",
				"myinfo.mobile_number":                   "90000002",
				"myinfo.mobile_number_with_country_code": "+6590000002",
				"myinfo.date_of_birth":                   "1988-11-23",
				"myinfo.registered_address":              "BLK 202 SAMPLE STREET 22\n#11-45\nSINGAPORE 000202",
				"myinfo.sex":                             "FEMALE",
				"myinfo.race":                            "MALAY",
				"myinfo.nationality":                     "SINGAPORE CITIZEN",
				"myinfo.residentialstatus":               "CITIZEN",
				"myinfo.marital_status":                  "MARRIED",
				"myinfo.vehicles":                        "[]",
				"myinfo.sponsored_child_records":         `[{"nric":"T1600006A","name":"MUHAMMAD IRFAN BIN HAZIQ","date_of_birth":"2016-09-03","sex":"MALE","race":"MALAY","residentialstatus":"CITIZEN","birth_country":"SINGAPORE"},{"nric":"T1900007A","name":"NUR HANNAH BINTE HAZIQ","date_of_birth":"2019-02-14","sex":"FEMALE","race":"MALAY","residentialstatus":"CITIZEN","birth_country":"SINGAPORE"}]`,
				"pocdex.public_officer_details":          `[{"work_email":"nur_aisyah_rahmat@agency.example","agency_name":"EXAMPLE AGENCY","department_name":"DIGITAL SERVICES","employment_title":"SENIOR MANAGER","employment_type":"PERMANENT"}]`,
			},
		},
		{
			Sub:   "sgidtest:renee-lim",
			Label: "Permanent resident, birth month only",
			Data: map[string]string{
				"myinfo.name":                            "RENÉE LIM HUI LING",
				"myinfo.nric_number":                     "T0000003Z",
				"myinfo.email":                           "renee.lim@example.net",
				"myinfo.mobile_number":                   "80000003",
				"myinfo.mobile_number_with_country_code": "+6580000003",
				"myinfo.date_of_birth":                   "1991-07",
				"myinfo.registered_address":              "303 PLACEHOLDER ROAD\n#02-01 TESTVILLE CONDOMINIUM\nSINGAPORE 000303",
				"myinfo.sex":                             "FEMALE",
				"myinfo.race":                            "EURASIAN",
				"myinfo.nationality":                     "FRENCH",
				"myinfo.residentialstatus":               "PR",
				"myinfo.birth_country":                   "FRANCE",
				"myinfo.passport_number":                 "XX0000003",
				"myinfo.passport_expiry_date":            "2030-01-31",
				"myinfo.marital_status":                  "SINGLE",
			},
		},
		{
			Sub:   "sgidtest:arjun-kumar",
			Label: "Work pass holder without a registered address",
			Data: map[string]string{
				"myinfo.name":                            "ARJUN KUMAR S/O RAMASAMY",
				"myinfo.nric_number":                     "G0000004A",
				"myinfo.email":                           "arjun.kumar@example.com",
				"myinfo.mobile_number":                   "80000004",
				"myinfo.mobile_number_with_country_code": "+6580000004",
				"myinfo.date_of_birth":                   "1984",
				"myinfo.registered_address":              "NA",
				"myinfo.sex":                             "MALE",
				"myinfo.race":                            "INDIAN",
				"myinfo.nationality":                     "INDIAN",
				"myinfo.residentialstatus":               "ALIEN",
				"myinfo.birth_country":                   "INDIA",
				"myinfo.name_of_employer":                "EXAMPLE ENGINEERING PTE. LTD.",
				"myinfo.workpass_status":                 "LIVE",
				"myinfo.workpass_expiry_date":            "2027-12-31",
			},
		},
		{
			Sub:   "sgidtest:lee-jia-hui",
			Label: "Name only, as private-sector apps see people",
			Data: map[string]string{
				"myinfo.name": "LEE JIA HUI",
			},
		},
		{
			Sub:   "sgidtest:goh-mei-ling",
			Label: "Public officer with three jobs in two agencies",
			Data: map[string]string{
				"myinfo.name":                            "GOH MEI LING",
				"myinfo.nric_number":                     "T0000005A",
				"myinfo.email":                           "goh.meiling@example.com",
				"myinfo.mobile_number":                   "90000005",
				"myinfo.mobile_number_with_country_code": "+6590000005",
				"myinfo.date_of_birth":                   "1990-05",
				"myinfo.sex":                             "FEMALE",
				"myinfo.race":                            "CHINESE",
				"myinfo.nationality":                     "SINGAPORE CITIZEN",
				"myinfo.residentialstatus":               "CITIZEN",
				"myinfo.marital_status":                  "SINGLE",
				// Two jobs in one agency, one in another; the first work
				// email in mixed case, the third outside gov.sg and with
				// a department that does not apply.
				"pocdex.public_officer_details": `[{"agency_name":"EXAMPLE AGENCY","department_name":"DIGITAL SERVICES","employment_title":"PRODUCT MANAGER","employment_type":"PERMANENT","work_email":"Goh_Mei_Ling@Example-Agency.gov.sg"},` +
					`{"agency_name":"EXAMPLE AGENCY","department_name":"POLICY OFFICE","employment_title":"DEPUTY DIRECTOR (SECONDED)","employment_type":"FIXED TERM","work_email":"goh_mei_ling@policy.example-agency.gov.sg"},` +
					`{"agency_name":"SAMPLE STATUTORY BOARD","department_name":"NA","employment_title":"ADVISOR","employment_type":"CONTRACT","work_email":"goh.meiling@sample-board.example"}]`,
			},
		},
		{
			Sub:   "sgidtest:chua-kok-leong",
			Label: "Not a public officer; parent with birth records, born 1990",
			Data: map[string]string{
				"myinfo.name":                            "CHUA KOK LEONG",
				"myinfo.nric_number":                     "S9000006A",
				"myinfo.email":                           "chua.kokleong@example.com",
				"myinfo.mobile_number":                   "80000006",
				"myinfo.mobile_number_with_country_code": "+6580000006",
				"myinfo.date_of_birth":                   "1990",
				"myinfo.registered_address":              "BLK 606 EXAMPLE CRESCENT\n#08-16\nSINGAPORE 000606",
				"myinfo.sex":                             "MALE",
				"myinfo.race":                            "CHINESE",
				"myinfo.nationality":                     "SINGAPORE CITIZEN",
				"myinfo.residentialstatus":               "CITIZEN",
				"myinfo.marital_status":                  "MARRIED",
				"myinfo.vehicles":                        "NA",
				"myinfo.children_birth_records":          `[{"birth_cert_no":"T2000008A","name":"CHUA YI XUAN","date_of_birth":"2020-03-14","sex":"FEMALE","race":"CHINESE","life_status":"ALIVE"},{"birth_cert_no":"T2300009A","name":"CHUA YI HAO","date_of_birth":"2023-11-02","sex":"MALE","race":"CHINESE","life_status":"NA"}]`,
				"myinfo.sponsored_children_records":      "[]",
				// What sgID's relying parties get for someone who is not
				// a public officer.
				"pocdex.public_officer_details": "[]",
			},
		},
		{
			Sub:   "sgidtest:nguyen-thi-lan",
			Label: "FIN holder (dependant), most fields NA",
			Data: map[string]string{
				"myinfo.name":                            "NGUYEN THI LAN",
				"myinfo.nric_number":                     "M0000007A",
				"myinfo.email":                           "NA",
				"myinfo.mobile_number":                   "NA",
				"myinfo.mobile_number_with_country_code": "NA",
				"myinfo.date_of_birth":                   "1995-02-28",
				"myinfo.registered_address":              "NA",
				"myinfo.sex":                             "FEMALE",
				"myinfo.race":                            "NA",
				"myinfo.nationality":                     "VIETNAMESE",
				"myinfo.residentialstatus":               "ALIEN",
				"myinfo.birth_country":                   "VIET NAM",
				"myinfo.marital_status":                  "NA",
				"myinfo.housingtype":                     "NA",
				"myinfo.hdbtype":                         "NA",
				"myinfo.name_of_employer":                "NA",
				"myinfo.workpass_status":                 "NA",
				"myinfo.workpass_expiry_date":            "NA",
				"myinfo.vehicles":                        "NA",
				"myinfo.children_birth_records":          "NA",
				// mockpass's value for a persona without officer details.
				"pocdex.public_officer_details": "NA",
			},
		},
	}
}

// supportedScopes lists openid plus every scope any persona has data for, in
// a stable order for the discovery document.
func supportedScopes(ps []Persona) []string {
	set := map[string]bool{"openid": true}
	for _, p := range ps {
		for k := range p.Data {
			set[k] = true
		}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
