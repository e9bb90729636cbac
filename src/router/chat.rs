//! Acknowledgements and small talk ("thanks", "ok", "yes", "go ahead", "cool, that worked",
//! "hi", "never mind"), in several languages: they take the fast path to a cheap model and
//! never inherit the thread's intent. Pure: no IO.

/// Words that make up acknowledgements and chat. A prompt counts as chat when every word
/// is one of these (and it is short); "thanks, now add tests" is not chat.
const CHAT_WORDS: &[&str] = &[
    // English acknowledgements, assent, greetings, chat.
    "thanks", "thank", "thx", "ty", "tysm", "cheers", "ok", "okay", "k", "kk", "yes", "yep",
    "yeah", "yup", "ya", "no", "nope", "nah", "sure", "cool", "great", "nice", "perfect",
    "awesome", "excellent", "good", "fine", "lovely", "amazing", "brilliant", "wonderful",
    "neat", "sweet", "wow", "lol", "haha", "hah", "hmm", "hm", "ah", "oh", "alright",
    "right", "correct", "exactly", "indeed", "true", "agreed", "got", "it", "that", "this",
    "worked", "works", "working", "helped", "helps", "fixed", "did", "the", "trick", "so",
    "much", "very", "a", "lot", "you", "u", "man", "mate", "again", "all", "makes", "sense",
    "go", "ahead", "please", "pls", "plz", "do", "never", "mind", "nvm", "hi", "hello",
    "hey", "yo", "morning", "evening", "afternoon", "night", "bye", "goodbye", "later",
    "see", "ya", "cya", "done", "sounds", "understood", "gotcha", "noted", "welcome", "and",
    "appreciate", "appreciated", "for", "help", "your", "just", "now", "wait", "hold", "on",
    "stop", "cancel", "continue", "proceed", "go", "on", "sorry", "my", "bad", "lgtm",
    "ship", "np", "no", "problem", "how", "are", "doing", "whats", "up", "sup", "there",
    "well", "really", "super", "ty", "thanx", "tnx", "yess", "yesss", "okey", "oki",
    // German, Spanish, French, Portuguese, Italian, Dutch.
    "danke", "schön", "dankeschön", "ja", "nein", "gut", "super", "genau", "alles", "klar",
    "hallo", "tschüss", "gracias", "muchas", "sí", "si", "vale", "bien", "perfecto",
    "genial", "hola", "de", "nada", "vale", "merci", "beaucoup", "oui", "non", "d'accord",
    "bonjour", "salut", "parfait", "obrigado", "obrigada", "sim", "não", "olá", "oi",
    "valeu", "grazie", "ciao", "bene", "dank", "je", "bedankt", "prima",
    // Russian, Ukrainian.
    "спасибо", "да", "нет", "ок", "хорошо", "понятно", "привет", "отлично", "супер", "ясно",
    "большое", "пока", "дякую",
    // Japanese, Chinese, Korean (whole phrases: no spaces between words).
    "ありがとう", "ありがとうございます", "はい", "いいえ", "了解", "了解です", "わかりました",
    "こんにちは", "どうも", "谢谢", "谢谢你", "多谢", "好的", "好", "是的", "对", "嗯", "可以",
    "你好", "明白了", "收到", "感谢", "감사합니다", "고마워", "네", "아니요", "좋아요", "안녕하세요",
];

/// Longest chat message, in words.
const MAX_WORDS: usize = 7;

/// `prompt` is an acknowledgement or small talk, nothing to work on.
pub fn is_chat(prompt: &str) -> bool {
    let t = prompt.trim();
    if t.is_empty() || t.len() > 80 || t.contains('\n') {
        return false;
    }
    let lower = t.to_lowercase();
    let mut words = 0;
    for w in lower.split(|c: char| c.is_whitespace() || ",.!?;:…。！？、，~-()".contains(c)) {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'');
        if w.is_empty() {
            continue;
        }
        words += 1;
        // Emoji-free words only; a word not in the list is content ("thanks, now add tests").
        if words > MAX_WORDS || !CHAT_WORDS.contains(&w) {
            return false;
        }
    }
    // Only emoji or punctuation ("👍", "!!") is chat too.
    words > 0 || t.chars().all(|c| !c.is_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_and_greetings_are_chat() {
        for p in [
            "thanks",
            "Thanks!",
            "ok",
            "yes",
            "go ahead",
            "cool, that worked",
            "hi",
            "never mind",
            "thank you so much",
            "perfect, thanks",
            "谢谢",
            "спасибо!",
            "danke schön",
            "ありがとう",
            "👍",
        ] {
            assert!(is_chat(p), "{p}");
        }
    }

    #[test]
    fn requests_are_not_chat() {
        for p in [
            "thanks, now add tests",
            "ok now make it faster",
            "yes but in go",
            "how do I squash my last 4 commits",
            "hi, can you write a regex for ipv4",
            "no, use a hashmap instead",
            "",
            "fix it",
        ] {
            assert!(!is_chat(p), "{p}");
        }
    }
}
