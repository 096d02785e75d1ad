/**
 * Python's `datetime.strftime` in the C locale, for the `strftime_now` helper transformers gives
 * chat templates (Llama 3.1's template prints "Today Date: 26 Jul 2024"). Local time, like
 * Python's naive `datetime.now()`. Covers the directives templates use, plus glibc's `%-d` style
 * no-padding flag; unknown directives are left as written, as glibc does.
 */

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** Formats `date` (local time) with a Python/C `strftime` format string. */
export function pythonStrftime(date: Date, format: string): string {
  return format.replace(/%(-?)([a-zA-Z%])/g, (whole, noPad: string, directive: string) => {
    const pad = (n: number, width = 2): string => (noPad ? String(n) : String(n).padStart(width, '0'));
    const hour12 = date.getHours() % 12 === 0 ? 12 : date.getHours() % 12;
    switch (directive) {
      case 'a':
        return DAYS[date.getDay()]!.slice(0, 3);
      case 'A':
        return DAYS[date.getDay()]!;
      case 'b':
      case 'h':
        return MONTHS[date.getMonth()]!.slice(0, 3);
      case 'B':
        return MONTHS[date.getMonth()]!;
      case 'd':
        return pad(date.getDate());
      case 'e':
        return noPad ? String(date.getDate()) : String(date.getDate()).padStart(2, ' ');
      case 'm':
        return pad(date.getMonth() + 1);
      case 'y':
        return pad(date.getFullYear() % 100);
      case 'Y':
        return String(date.getFullYear());
      case 'H':
        return pad(date.getHours());
      case 'I':
        return pad(hour12);
      case 'M':
        return pad(date.getMinutes());
      case 'S':
        return pad(date.getSeconds());
      case 'p':
        return date.getHours() < 12 ? 'AM' : 'PM';
      case 'j':
        return pad(dayOfYear(date), 3);
      case 'w':
        return String(date.getDay());
      case 'u':
        return String(date.getDay() === 0 ? 7 : date.getDay());
      case 'F':
        return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
      case 'T':
        return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
      case 'z':
      case 'Z':
        // Python's naive datetime has no zone: both render empty.
        return '';
      case '%':
        return '%';
      default:
        return whole;
    }
  });
}

function dayOfYear(date: Date): number {
  const start = new Date(date.getFullYear(), 0, 1);
  const today = new Date(date.getFullYear(), date.getMonth(), date.getDate());
  return Math.round((today.getTime() - start.getTime()) / 86_400_000) + 1;
}
