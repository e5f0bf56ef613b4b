/*
 * The C face of libphonenumber (a C++ library): parse a number with a default region, check it
 * against the region's metadata and format it. Compiled as C++; nothing else in the agent is.
 * PhoneNumberUtil is a process-wide singleton, safe to use from any thread once created.
 */
#include <phonenumbers/phonenumber.pb.h>
#include <phonenumbers/phonenumberutil.h>
#include <phonenumbers/shortnumberinfo.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "phone_shim.h"

using i18n::phonenumbers::PhoneNumber;
using i18n::phonenumbers::PhoneNumberUtil;
using i18n::phonenumbers::ShortNumberInfo;

namespace
{

void
say(char *why, size_t whyn, const char *text)
{
    if (whyn)
        std::snprintf(why, whyn, "%s", text);
}

const char *
parse_error(PhoneNumberUtil::ErrorType e)
{
    switch (e) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE_ERROR:
        return "no country code, and no default region to read it in";
    case PhoneNumberUtil::NOT_A_NUMBER:
        return "not a phone number";
    case PhoneNumberUtil::TOO_SHORT_AFTER_IDD:
        return "too short after the international prefix";
    case PhoneNumberUtil::TOO_SHORT_NSN:
        return "too short";
    case PhoneNumberUtil::TOO_LONG_NSN:
        return "too long";
    default:
        return "cannot be parsed";
    }
}

const char *
length_error(PhoneNumberUtil::ValidationResult r)
{
    switch (r) {
    case PhoneNumberUtil::INVALID_COUNTRY_CODE:
        return "unknown country code";
    case PhoneNumberUtil::TOO_SHORT:
        return "too short for its region";
    case PhoneNumberUtil::TOO_LONG:
        return "too long for its region";
    case PhoneNumberUtil::INVALID_LENGTH:
        return "a length no number of its region has";
    case PhoneNumberUtil::IS_POSSIBLE_LOCAL_ONLY:
        return "a local number without its area code";
    default:
        return "not a valid number for its region";
    }
}

} // namespace

extern "C" int
cdc_phone_format(const char *in, size_t n, const char *region, cdc_phone_style_t style, char *out,
                 size_t outn, char *why, size_t whyn)
{
    try {
        const PhoneNumberUtil &util = *PhoneNumberUtil::GetInstance();
        std::string raw(in, n);
        std::string reg = region && *region ? region : "ZZ"; /* ZZ: only with a leading + */
        PhoneNumber number;
        PhoneNumberUtil::ErrorType e = util.Parse(raw, reg, &number);
        if (e != PhoneNumberUtil::NO_PARSING_ERROR) {
            say(why, whyn, parse_error(e));
            return 1;
        }
        if (!util.IsValidNumber(number)) {
            static const ShortNumberInfo shorts; /* 112, 911: a call, not a contact's number */
            if (reg != "ZZ" && shorts.IsEmergencyNumber(raw, reg)) {
                say(why, whyn, "an emergency number, not a subscriber number");
                return 1;
            }
            say(why, whyn, length_error(util.IsPossibleNumberWithReason(number)));
            return 1;
        }
        std::string formatted;
        switch (style) {
        case CDC_PHONE_INTERNATIONAL:
            util.Format(number, PhoneNumberUtil::INTERNATIONAL, &formatted);
            break;
        case CDC_PHONE_NATIONAL:
            util.Format(number, PhoneNumberUtil::NATIONAL, &formatted);
            break;
        case CDC_PHONE_RFC3966:
            util.Format(number, PhoneNumberUtil::RFC3966, &formatted);
            break;
        default: /* E.164 has no extension: kept the RFC 3966 way, never dropped */
            util.Format(number, PhoneNumberUtil::E164, &formatted);
            if (number.has_extension() && !number.extension().empty())
                formatted += ";ext=" + number.extension();
        }
        if (formatted.size() + 1 > outn) {
            say(why, whyn, "formatted number too long");
            return 1;
        }
        std::memcpy(out, formatted.data(), formatted.size());
        out[formatted.size()] = '\0';
        return 0;
    } catch (...) { /* nothing may unwind into C */
        say(why, whyn, "cannot be parsed");
        return 1;
    }
}

extern "C" int
cdc_phone_region_known(const char *region)
{
    try {
        std::string reg(region ? region : "");
        return PhoneNumberUtil::GetInstance()->GetCountryCodeForRegion(reg) != 0;
    } catch (...) {
        return 0;
    }
}
