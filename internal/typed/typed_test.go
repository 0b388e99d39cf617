package typed

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestValue(t *testing.T) {
	for _, tc := range []struct {
		name, scope, raw string
		want             any
	}{
		{"a name", "myinfo.name", "TAN AH KOW", "TAN AH KOW"},
		{"NA", "myinfo.name", "NA", nil},
		{"NA of a JSON scope", "myinfo.vehicles", "NA", nil},
		{"NA of an unknown scope", "x.y", "NA", nil},
		{"na is not NA", "myinfo.sex", "na", "na"},
		{"NA with white space is not NA", "myinfo.sex", " NA", " NA"},
		{"empty", "myinfo.email", "", ""},
		{"full date of birth", "myinfo.date_of_birth", "1990-05-17", "1990-05-17"},
		{"year and month of birth", "myinfo.date_of_birth", "1990-05", "1990-05"},
		{"year of birth", "myinfo.date_of_birth", "1990", "1990"},
		{"address with new lines", "myinfo.registered_address", "BLK 1\n#01-01\nSINGAPORE 000001", "BLK 1\n#01-01\nSINGAPORE 000001"},
		{"a string scope that looks like JSON", "myinfo.name", `["TAN"]`, `["TAN"]`},
		{"an object in a string scope", "myinfo.registered_address", `{"a":"b"}`, `{"a":"b"}`},
		{"vehicles", "myinfo.vehicles", `[{"vehicle_number":"SZZ1234X","make":"NA"}]`,
			[]any{map[string]any{"vehicle_number": "SZZ1234X", "make": nil}}},
		{"empty array", "myinfo.sponsored_children_records", "[]", []any{}},
		{"children", "myinfo.children_birth_records", `[{"birth_cert_no":"T1","name":"A","date_of_birth":"2016-09"}]`,
			[]any{map[string]any{"birth_cert_no": "T1", "name": "A", "date_of_birth": "2016-09"}}},
		{"officer", "pocdex.public_officer_details", `[{"work_email":"A@B.gov.sg","department_name":"NA"}]`,
			[]any{map[string]any{"work_email": "A@B.gov.sg", "department_name": nil}}},
		{"NA nested deeper, names kept", "myinfo.vehicles", `{"NA":["NA",{"x":"NA","y":"na"}],"n":1,"b":true,"z":null}`,
			map[string]any{"NA": []any{nil, map[string]any{"x": nil, "y": "na"}}, "n": float64(1), "b": true, "z": nil}},
		{"unknown scope decoded", "x.new_scope", `{"a":[1,2]}`, map[string]any{"a": []any{float64(1), float64(2)}}},
		{"unknown scope text", "x.new_scope", `hello`, "hello"},
		{"invalid JSON kept", "myinfo.vehicles", `[not json]`, `[not json]`},
		{"NUL bytes kept", "myinfo.vehicles", "\x00\x00", "\x00\x00"},
		{"white space before the bracket: not decoded", "myinfo.vehicles", ` [1]`, ` [1]`},
		{"white space after: not decoded", "myinfo.vehicles", "[1]\n", "[1]\n"},
		{"white space inside", "myinfo.vehicles", "[ 1 , 2 ]", []any{float64(1), float64(2)}},
		{"mismatched brackets", "myinfo.vehicles", `[1}`, `[1}`},
		{"a JSON number", "myinfo.vehicles", `1`, `1`},
		{"a JSON string", "myinfo.vehicles", `"x"`, `"x"`},
		{"JSON null", "myinfo.vehicles", `null`, `null`},
		{"a lone bracket", "myinfo.vehicles", `[`, `[`},
		{"two arrays", "myinfo.vehicles", `[1][2]`, `[1][2]`},
		{"a number out of range", "myinfo.vehicles", `[1e400]`, `[1e400]`},
		{"a lone surrogate", "myinfo.vehicles", `["\ud800"]`, []any{"\ufffd"}},
		{"duplicate names: the last wins", "myinfo.vehicles", `{"a":1,"a":2}`, map[string]any{"a": float64(2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Value(tc.scope, tc.raw); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Value(%q, %q) = %#v, want %#v", tc.scope, tc.raw, got, tc.want)
			}
		})
	}
}

func TestTooDeep(t *testing.T) {
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	if got := Value("myinfo.vehicles", deep); got != deep {
		t.Errorf("nesting of 10,001 levels was decoded: %T", got)
	}
	ok := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	if _, isArray := Value("myinfo.vehicles", ok).([]any); !isArray {
		t.Error("nesting of 100 levels was not decoded")
	}
}

func TestData(t *testing.T) {
	got := Data(map[string]string{
		"myinfo.name":                   "LEE JIA HUI",
		"myinfo.date_of_birth":          "1990",
		"myinfo.email":                  "NA",
		"pocdex.public_officer_details": "[]",
	})
	want := map[string]any{
		"myinfo.name":                   "LEE JIA HUI",
		"myinfo.date_of_birth":          "1990",
		"myinfo.email":                  nil,
		"pocdex.public_officer_details": []any{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Data = %#v, want %#v", got, want)
	}
	b, err := json.Marshal(Data(nil))
	if err != nil || string(b) != "{}" {
		t.Errorf("Data(nil) encodes as %s, %v; want {}", b, err)
	}
	b, _ = json.Marshal(got)
	if want := `{"myinfo.date_of_birth":"1990","myinfo.email":null,"myinfo.name":"LEE JIA HUI","pocdex.public_officer_details":[]}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
}

func TestKindOf(t *testing.T) {
	for scope, want := range map[string]Kind{
		"myinfo.vehicles":                   JSON,
		"myinfo.children_birth_records":     JSON,
		"myinfo.sponsored_children_records": JSON,
		"myinfo.sponsored_child_records":    JSON,
		"pocdex.public_officer_details":     JSON,
		"myinfo.name":                       String,
		"myinfo.nric_number":                String,
		"myinfo.date_of_birth":              String,
		"myinfo.registered_address":         String,
		"myinfo.marital_status":             String,
		"openid":                            Unknown,
		"pocdex.number_of_employments":      Unknown,
		"MYINFO.NAME":                       Unknown,
	} {
		if got := KindOf(scope); got != want {
			t.Errorf("KindOf(%q) = %v, want %v", scope, got, want)
		}
	}
}
